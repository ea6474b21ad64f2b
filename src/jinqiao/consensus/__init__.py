"""Consensus: Tendermint (Buchman, Kwon, Milosevic 2018, Algorithm 1) as a pure state machine
(``tendermint``: events in, outputs out, plain-data state), the safety module that owns the
validator key and never signs two conflicting messages (``safety``), the signed message structs
(``messages``) and a deterministic network simulator (``sim``) that runs validators with drops,
delays, partitions, crashes and Byzantine twins on a simulated clock.

The node's ``node.bft.ConsensusDriver`` connects the machine to the network, the clock, execution
and storage; a network of one validator commits alone (``node.service``). The machine's interface
is ``Tendermint.handle(event) -> list[Output]``: it keeps its plain-data state on itself (as
etcd's raft does) rather than taking and returning it, and its inputs and outputs are listed in
``tendermint``'s docstring. The simulator runs the machine and the safety module with its own
small driver and a toy application, not ``node.bft``'s driver.
"""
