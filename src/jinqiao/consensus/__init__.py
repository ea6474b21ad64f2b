"""Consensus: Tendermint (Buchman, Kwon, Milosevic 2018, Algorithm 1) as a pure state machine
(``tendermint``: events in, outputs out, plain-data state), the safety module that owns the
validator key and never signs two conflicting messages (``safety``), and the signed message structs
(``messages``). The deterministic simulator (``jinqiao.sim``) runs them inside the node's own
driver, chain and store, with drops, delays, partitions, crashes and Byzantine twins on a
simulated clock.

Around the machine, ``node.driver.Driver`` decides what a validator does (sans I/O: events in,
actions out) and ``node.bft.ConsensusDriver`` is the asyncio shell that carries its actions out
against the network, the clock, execution and storage. The machine's interface is
``Tendermint.handle(event) -> list[Output]``: it keeps its plain-data state on itself (as etcd's
raft does) rather than taking and returning it; its inputs and outputs are listed in
``tendermint``'s docstring.
"""
