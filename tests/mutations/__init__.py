"""The mutation run: deliberate defects, each breaking one promise of the
README, applied one at a time to a temporary copy of the repository; the
tests named for each must go red. Entry point: ./tests/mutate.sh."""
