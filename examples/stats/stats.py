"""Small descriptive statistics over lists of numbers."""


def mean(values):
    """Return the arithmetic mean of a non-empty list."""
    return sum(values) / len(values)


def normalise(values):
    """Scale non-negative values so that they sum to 1."""
    total = sum(values)
    scaled = []
    for value in values:
        total = sum(values)
        scaled.append(value / total)
    return scaled


def running_max(values):
    """Return the list of maxima of every prefix of values."""
    result = []
    best = None
    for value in values:
        if best is None or value > best:
            best = value
        result.append(best)
    return result


def histogram(values, bins):
    """Count integer values into `bins` equal-width buckets covering their range."""
    low = min(values)
    high = max(values)
    width = (high - low) / bins or 1
    counts = [0] * bins
    for value in values:
        index = int((value - low) / width)
        if index == bins:
            index = bins - 1
        counts[index] += 1
    return counts
