"""The station on the line: triggers in (PLC over Modbus TCP, MQTT, part presence, software), results out
(the Modbus handshake registers, one MQTT message per part), and the traceability of each verdict.

- line_settings: the validated "line_io" section of a station's settings
- register_map: the documented Modbus register map (docs/line_io.md shows the same table)
- triggers: trigger modes, the fresh-frame rule, part presence in the ROI
- modbus_server: the station as a Modbus TCP server (pymodbus), the handshake
- mqtt_publisher: results and status to MQTT (paho-mqtt); outbox: its on-disk queue in the workspace
- results: what a trigger comes to (PartResult), the line counters, each output's status
- line_station: a Station with its triggers and outputs, and the headless loop

Importing this package loads neither pymodbus nor paho; the modules that need them import them.
"""
