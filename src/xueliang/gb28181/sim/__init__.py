"""Simulated GB/T 28181 cameras (`xueliang sim --gb28181 N`): devices that register to a platform,
keep alive, answer its catalog and queries, stream the simulator's marker loops as PS over RTP and
turn to presets (the picture's marker names camera and preset)."""
