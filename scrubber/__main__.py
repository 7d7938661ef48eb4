from scrubber.cli import run

run()
