"""What every part and every process shares, depending on nothing else of ours but config: the
domain errors (exceptions: no HTTP or database imports), the spam rules (spam), and JSON log
lines on stdout (logs).
"""
