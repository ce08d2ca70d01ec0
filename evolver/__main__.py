from evolver.cli import entry

entry()
