def send(to):
    return to
