"""Dialog state: intent per turn, slots filled and confirmed across turns, window and summary."""
