"""Consensus: Tendermint (Buchman, Kwon, Milosevic 2018, Algorithm 1) as a pure state machine —
inputs are messages, timeouts and validity verdicts; outputs are messages, timers and decisions.

A solo network (one validator) needs no agreement: its node commits each block with its own
precommit as the certificate. The multi-validator state machine arrives with the BFT issue.
"""
