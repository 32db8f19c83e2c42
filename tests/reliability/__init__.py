"""The reliability suite: hostile input, crashes, damaged indexes, concurrency, security."""
