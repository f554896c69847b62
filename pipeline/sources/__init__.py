"""Where data comes from: embedded files, HTTP services, user files; knows nothing of maps."""
