#!/bin/sh
# Install (or remove) FanQC's desktop entry and icons for the current user (XDG: ~/.local/share), pointing
# at a FanQC folder built by `make package` (dist/FanQC, copied anywhere).
#
#   ./install-desktop-entry.sh               run from inside the FanQC folder: installs for that folder
#   ./install-desktop-entry.sh DIR           installs for the FanQC folder DIR
#   ./install-desktop-entry.sh --uninstall   removes the entry and the icons again
#
# Moved the folder? Run it again from the new place. Nothing here needs root.
set -eu

DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
APPS=$DATA_HOME/applications
ICONS=$DATA_HOME/icons/hicolor
SIZES="16 24 32 48 64 128 256 512"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" 2>/dev/null || true
    touch "$ICONS" 2>/dev/null || true
    # Refresh a user icon cache only where one exists already (a new one would have to be kept up to date).
    if [ -f "$ICONS/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$APPS/fanqc.desktop" "$ICONS/scalable/apps/fanqc.svg"
    for n in $SIZES; do rm -f "$ICONS/${n}x${n}/apps/fanqc.png"; done
    refresh
    echo "removed $APPS/fanqc.desktop and the fanqc icons"
    exit 0
fi
case "${1:-}" in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

DIR=${1:-$(dirname "$0")}
DIR=$(cd "$DIR" && pwd -P)
if [ ! -x "$DIR/fanqc-gui" ]; then
    echo "install-desktop-entry: $DIR/fanqc-gui not found; pass the FanQC folder (dist/FanQC) as argument" >&2
    exit 2
fi
case "$DIR" in
    *[\"\\\`\$%]*)
        echo "install-desktop-entry: the folder path contains one of \" \\ \` \$ %; move FanQC to a plainer path" >&2
        exit 2 ;;
esac
SRC_ICONS=$DIR/share/icons/hicolor
if [ ! -f "$SRC_ICONS/256x256/apps/fanqc.png" ]; then  # running from the source tree's packaging/
    SRC_ICONS=$(cd "$(dirname "$0")/.." && pwd -P)/resources/icons/hicolor
fi

mkdir -p "$APPS"
for n in $SIZES; do
    mkdir -p "$ICONS/${n}x${n}/apps"
    cp "$SRC_ICONS/${n}x${n}/apps/fanqc.png" "$ICONS/${n}x${n}/apps/fanqc.png"
done
mkdir -p "$ICONS/scalable/apps"
cp "$SRC_ICONS/scalable/apps/fanqc.svg" "$ICONS/scalable/apps/fanqc.svg"

# The desktop entry, with Exec/TryExec made absolute (quoted: the path may contain spaces).
cat > "$APPS/fanqc.desktop" <<ENTRY
[Desktop Entry]
Type=Application
Version=1.4
Name=FanQC
GenericName=Visual Inspection
Comment=Sort GO/NG images, train the inspection model and run the camera station
Exec="$DIR/fanqc-gui" %f
TryExec=$DIR/fanqc-gui
Icon=fanqc
Terminal=false
Categories=Graphics;Qt;
Keywords=inspection;quality;camera;CNN;GO;NG;
StartupNotify=true
ENTRY
chmod 644 "$APPS/fanqc.desktop"
refresh
echo "installed $APPS/fanqc.desktop -> $DIR/fanqc-gui (icons in $ICONS)"
