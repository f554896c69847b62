"""Pure steps: frames in, frames out; no disk, no network, no matplotlib."""
