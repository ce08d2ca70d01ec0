"""Summaries of a list of grades, with one planted bug to repair.

`count_above` counts the grades equal to the threshold too (`>=` where `>` is
meant), so the suite's tests of it fail. `evolver run examples/repair --repair`
finds the fix.
"""


def mean(grades):
    """Return the arithmetic mean of a non-empty list."""
    return sum(grades) / len(grades)


def median(grades):
    """Return the middle grade of a non-empty list, or the mean of the middle two."""
    ordered = sorted(grades)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def count_above(grades, threshold):
    """Count the grades strictly above `threshold`."""
    return sum(1 for grade in grades if grade >= threshold)
