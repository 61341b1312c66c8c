"""Where results live: run directories and file names, atomic writes, the one-writer lock, the
fingerprinted resumable result store."""
