"""Command line: `gateway <command>`; each area registers its commands in its own module."""
