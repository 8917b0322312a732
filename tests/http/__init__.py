"""Client calls over loopback HTTP against the emulator."""
