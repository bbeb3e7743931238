"""FanQC: visual GO/NG inspection with a CNN the shop floor trains itself."""

__version__ = "0.1.0"
