"""Traffic as data: the actions a script asks for, their synthesis into frames, the wire formats,
pcap files, the technique contract that ``attack_scripts/`` implements, and the host records a
script writes beside its traffic (:mod:`.hostlog`).

An attack technique or a benign traffic kind is a class registered with :func:`technique` or
:func:`benign`; it generates :mod:`actions <range.traffic.actions>` for one team's layout.
"""
from range.traffic import wire
from range.traffic.actions import (
                                   Action,
                                   FlowKey,
                                   IcmpEcho,
                                   RawFrames,
                                   TcpSession,
                                   UdpExchange,
                                   ephemeral_port,
                                   http_date,
)
from range.traffic.hostlog import HostLog, Proc
from range.traffic.pcapfile import PcapWriter, check_pcap
from range.traffic.synth import MSS, Synth
from range.traffic.techniques import (
                                   BENIGN,
                                   TECHNIQUES,
                                   BenignContext,
                                   BenignKind,
                                   BenignParams,
                                   Names,
                                   NoParams,
                                   StepContext,
                                   Technique,
                                   benign,
                                   technique,
)

__all__ = ["wire", "Action", "FlowKey", "IcmpEcho", "RawFrames", "TcpSession", "UdpExchange", "ephemeral_port",
           "http_date", "HostLog", "Proc", "PcapWriter", "check_pcap", "MSS", "Synth", "BENIGN", "TECHNIQUES",
           "BenignContext", "BenignKind", "BenignParams", "Names", "NoParams", "StepContext", "Technique", "benign",
           "technique"]
