-- Cisco FabricPath as Zeek reads it: a 16-byte header (outer addresses, ethertype 0x8903 and a
-- 2-byte FTag/TTL), then the inner Ethernet frame with no FabricPath checksum after it.
-- Wireshark's own FabricPath dissector takes the frame's last 4 bytes as that checksum, which
-- cuts the inner packet short when the capture carries none (as captures from a switch's SPAN
-- port do); range.events.tshark loads this in its place.
local fabricpath = Proto("fabricpath_nofcs", "Cisco FabricPath (no trailing FCS)")
local ethernet = Dissector.get("eth_withoutfcs")

function fabricpath.dissector(tvb, pinfo, tree)
    ethernet:call(tvb(2):tvb(), pinfo, tree)
end

DissectorTable.get("ethertype"):add(0x8903, fabricpath)
