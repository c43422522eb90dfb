-- RELOAD over TLS (TLS-TCP-FH-NO-ICE, RFC 6940 §6.6.5) for Wireshark.
--
-- Wireshark's RELOAD dissector finds framed messages (§6.6.2) over UDP
-- and inside DTLS by itself, but not inside TLS. This script splits the
-- decrypted TLS stream into framed messages (DATA: 8 + length bytes, ACK:
-- 9 bytes) and hands each to the reload-framing dissector.
--
--   tshark -r demo.pcap -o tls.keylog_file:demo.pcap.keys \
--       -X lua_script:reload-tls.lua -X lua_script1:6084,6085 \
--       -d tcp.port==6084,tls -d tcp.port==6085,tls -Y reload
--
-- The optional argument lists the TCP ports of the overlay's TLS links
-- (default 6084). In the Wireshark GUI, put the script in the personal
-- Lua plugins folder (Help > About Wireshark > Folders), and use Analyze >
-- Decode As to decode those TCP ports as TLS.

local framing = Dissector.get("reload-framing")
local proto = Proto("reloadtls", "RELOAD framing over TLS")

local function pdu_len(tvb, pinfo, off)
  if tvb(off, 1):uint() == 0x80 then -- DATA: type, sequence, uint24 length
    return 8 + tvb(off + 5, 3):uint()
  end
  return 9 -- ACK: type, ack_sequence, received
end

local function pdu(tvb, pinfo, tree)
  return framing:call(tvb, pinfo, tree)
end

function proto.dissector(tvb, pinfo, tree)
  return dissect_tcp_pdus(tvb, tree, 9, pdu_len, pdu)
end

local ports = ({...})[1] or "6084"
for port in string.gmatch(ports, "%d+") do
  DissectorTable.get("tls.port"):add(tonumber(port), proto)
end
