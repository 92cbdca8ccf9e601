-- kcp.lua: Wireshark/tshark dissector for KCP as sent by kcp-go (github.com/xtaci/kcp-go).
--
-- Decodes all three kcp-go framings of a UDP datagram:
--   plain      KCP segments from payload offset 0 (Dial/Listen, no FEC, no crypt)
--   fec        8-byte FEC header (seqid u32 | type u16: 0xf1 data, 0xf2 parity,
--              0xf3 oob | size u16), then segments (data shards only)
--   encrypted  16-byte nonce + CRC32 + ciphertext (AES-GCM: 12-byte nonce, 16-byte tag):
--              opaque without the key, shown as kcp.encrypted bytes
-- Every segment of a datagram gets its own subtree; all fields little-endian.
--
-- Install (either):
--   cp wireshark/kcp.lua ~/.config/wireshark/plugins/      (Wireshark and tshark load it)
--   tshark -X lua_script:wireshark/kcp.lua ...            (one run only)
--
-- Preferences (Edit > Preferences > Protocols > KCP, or tshark -o):
--   kcp.ports    UDP port range decoded as KCP, e.g. -o kcp.ports:8080,9000-9010
--                (default empty: only the heuristic below applies; "Decode As" works too)
--   kcp.framing  auto | plain | fec | encrypted (default auto)
-- Auto-detection (framing auto, on kcp.ports): plain if byte 4 is a cmd (0x51..0x54) and the
-- segments' len fields chain exactly to the end; FEC if bytes 4..5 are f1/f2/f3 00 and the
-- shard is consistent (data: size = length - 6 and segments chain from offset 8; oob: seqid
-- 0xffffffff and size = length - 6; parity: >= 32 bytes with bytes 30..31 zero); otherwise
-- encrypted if >= 32 bytes (an encrypted OOB shard can be that short), else malformed.
-- Without a port, a heuristic claims a datagram only when it is plain or FEC as above and
-- also has one conv, wnd and una in all segments and no frg or data outside PUSH; parity
-- shards only on a flow where it already claimed a data shard. It never claims encrypted
-- traffic: that needs kcp.ports. Malformed datagrams get the expert info kcp.malformed.
--
-- Sequence analysis, like Wireshark's for TCP (generated fields, computed in frame order on the
-- first pass; preference kcp.analyze, default on), per conv and direction:
--   kcp.analysis.retransmission  on a PUSH whose sn was sent before: the frame of its first
--                                transmission (and the expert info kcp.retransmission; the Info
--                                column puts "[Retransmission]" before the segment, as TCP's does,
--                                or "[Spurious Retransmission]" when kcp.analysis.spurious marks it)
--   kcp.analysis.acks_frame      on an ACK: the frame of the PUSH it acknowledges, the one whose ts
--                                the ACK echoes (kcp-go and ikcp copy the PUSH's ts into its ACK), so
--                                a retransmission's ACK is told from the first transmission's; none
--                                when no PUSH in the capture carried that ts
--   kcp.analysis.ack_rtt         on an ACK: the time since that PUSH
--   kcp.analysis.spurious        a copy sent after one that an ACK acknowledged is spurious (that one
--                                had arrived; RFC 3522's Eifel detection, with KCP's echoed ts): on
--                                an ACK, how many copies sent before it it newly shows spurious; on
--                                a PUSH sent after such an ACK, 1; with the expert info kcp.spurious.
--                                A lower bound: kcp-go sends, of a flush's ACKs, only those of
--                                out-of-order segments and the last, so una alone acknowledges most
--                                in-order segments of a bulk transfer
-- e.g. tshark -X lua_script:wireshark/kcp.lua -r FILE -Y kcp.analysis.retransmission
--
-- A ladder (one line per datagram, all segments; occurrence=a lists every segment) in a
-- terminal:
--   tshark -X lua_script:wireshark/kcp.lua -r FILE.pcapng -Y kcp -T fields \
--     -E occurrence=a -e frame.time_relative -e ip.src -e udp.srcport -e ip.dst \
--     -e udp.dstport -e kcp.cmd -e kcp.sn -e kcp.una -e kcp.len
-- or the summary lines:  tshark -X lua_script:wireshark/kcp.lua -r FILE.pcapng -Y kcp
-- Add -o kcp.ports:PORT for encrypted traffic or to bypass the heuristic.

local kcp = Proto("kcp", "KCP")

local SEG_HDR = 24 -- conv u32 | cmd u8 | frg u8 | wnd u16 | ts u32 | sn u32 | una u32 | len u32
local FEC_HDR = 8 -- seqid u32 | type u16 | size u16
-- Smallest encrypted kcp-go datagram: nonce 16 + crc 4 + one segment header = 44, but an
-- out-of-band packet of an FEC session (FEC header 8 + conv 4 + payload) can be as short as
-- 16 + 4 + 8 + 4 = 32 (AES-GCM: nonce 12 + tag 16 + 12 = 40), so 32 is the floor.
local ENC_MIN = 32
local OOB_SEQID = 0xffffffff
local PARITY_MIN = FEC_HDR + SEG_HDR -- a parity shard is as long as the longest data shard
local PARITY_ZERO = FEC_HDR + 22 -- high half of the first segment's len in every data shard

local CMD_PUSH, CMD_ACK = 81, 82
local CMD_NAMES = { [81] = "PUSH", [82] = "ACK", [83] = "WASK", [84] = "WINS" }
local FEC_DATA, FEC_PARITY, FEC_OOB = 0xf1, 0xf2, 0xf3
local FEC_NAMES = { [FEC_DATA] = "data", [FEC_PARITY] = "parity", [FEC_OOB] = "oob" }

local MODE_AUTO, MODE_PLAIN, MODE_FEC, MODE_ENC = 0, 1, 2, 3

-- Frame-number field types (an ACK's arrow in the packet list); an older Wireshark may have none.
local FRAMETYPE = frametype or {}

local f = {
    framing = ProtoField.string("kcp.framing", "Framing"),
    conv = ProtoField.uint32("kcp.conv", "Conversation", base.DEC_HEX),
    cmd = ProtoField.uint8("kcp.cmd", "Command", base.DEC, CMD_NAMES),
    frg = ProtoField.uint8("kcp.frg", "Fragment", base.DEC),
    wnd = ProtoField.uint16("kcp.wnd", "Window", base.DEC),
    ts = ProtoField.uint32("kcp.ts", "Timestamp (ms)", base.DEC),
    sn = ProtoField.uint32("kcp.sn", "Sequence number", base.DEC),
    una = ProtoField.uint32("kcp.una", "Unacknowledged", base.DEC),
    len = ProtoField.uint32("kcp.len", "Length", base.DEC),
    data = ProtoField.bytes("kcp.data", "Data"),
    fec_seqid = ProtoField.uint32("kcp.fec.seqid", "FEC sequence id", base.DEC),
    fec_type = ProtoField.uint16("kcp.fec.type", "FEC type", base.HEX, FEC_NAMES),
    fec_size = ProtoField.uint16("kcp.fec.size", "FEC size", base.DEC),
    fec_parity = ProtoField.bytes("kcp.fec.parity", "Reed-Solomon parity"),
    oob_conv = ProtoField.uint32("kcp.oob.conv", "OOB conversation", base.DEC_HEX),
    oob_data = ProtoField.bytes("kcp.oob.data", "OOB data"),
    encrypted = ProtoField.bytes("kcp.encrypted", "Encrypted payload"),
    retrans = ProtoField.framenum("kcp.analysis.retransmission", "Retransmission of the PUSH in frame",
        base.NONE, FRAMETYPE.NONE),
    acks = ProtoField.framenum("kcp.analysis.acks_frame", "This is an ACK of the PUSH in frame",
        base.NONE, FRAMETYPE.ACK),
    ack_rtt = ProtoField.relative_time("kcp.analysis.ack_rtt", "Time since the PUSH it acknowledges"),
    spurious = ProtoField.uint32("kcp.analysis.spurious",
        "Spurious retransmissions (an ACK: the earlier copies it shows spurious; a PUSH: 1)", base.DEC),
}
kcp.fields = f

local ef_malformed = ProtoExpert.new("kcp.malformed", "Malformed KCP",
    expert.group.MALFORMED, expert.severity.ERROR)
local ef_retrans = ProtoExpert.new("kcp.retransmission", "Retransmission",
    expert.group.SEQUENCE, expert.severity.NOTE)
local ef_spurious = ProtoExpert.new("kcp.spurious", "Spurious retransmission",
    expert.group.SEQUENCE, expert.severity.NOTE)
kcp.experts = { ef_malformed, ef_retrans, ef_spurious }

kcp.prefs.ports = Pref.range("UDP ports", "", "UDP ports always decoded as KCP", 65535)
kcp.prefs.analyze = Pref.bool("Analyze KCP sequence numbers", true,
    "Mark retransmitted PUSH segments, and the PUSH each ACK acknowledges with the time since and the retransmissions it shows spurious (costs time on large captures)")
kcp.prefs.framing = Pref.enum("Framing", MODE_AUTO,
    "How the UDP payload is framed: auto-detect, plain KCP, FEC, or encrypted",
    {
        { 1, "auto", MODE_AUTO },
        { 2, "plain", MODE_PLAIN },
        { 3, "fec", MODE_FEC },
        { 4, "encrypted", MODE_ENC },
    }, false)

-- Flows (UDP endpoint pairs) on which the heuristic accepted an FEC data shard, by the first
-- such frame: parity shards, which carry little to check, are claimed on those flows only.
local fec_flows = {}

-- Sequence analysis state (see the header), filled in frame order on the first pass (pinfo.visited
-- false). Per direction and conv, q = pushes["src/port>dst/port"][conv] holds, by PUSH sn, the frame,
-- ts and time (seconds from the first frame) of its latest transmission (q.last, q.ts, q.t) and how
-- many it had (q.n), and, once it was sent again, the frame of its first (q.first), the earlier
-- transmissions by ts (q.older[sn][ts] = { frame, time, index }) and those shown spurious
-- (q.spur[sn][index] = true), and whether an ACK acknowledged a copy (q.arrived[sn]). The marks of
-- segment i of frame n are at n * SEGS_MAX + i: retrans_of (the frame of the first transmission),
-- acks_of (the frame of the PUSH an ACK acknowledges), rtt_of (seconds since it) and spurious_of (on
-- an ACK, how many transmissions sent after that PUSH it newly shows spurious; on a PUSH, 1). Numbers
-- in a few flat tables: a table per sn or per frame took longer on large captures.
local SEGS_MAX = 4096 -- more segments than a 65,535-byte datagram holds
local analyze = true -- kcp.prefs.analyze, read in prefs_changed
local pushes, retrans_of, acks_of, rtt_of, spurious_of = {}, {}, {}, {}, {}

-- ---------------------------------------------------------------------------------------
-- Parsing: pure functions over the tvb, no tree changes, no out-of-bounds access.

-- scan_segments reads segments from off up to stop. strict adds the heuristic's checks.
-- Returns the segments read and, on failure, an error text and its offset.
local function scan_segments(tvb, off, stop, strict)
    local segs = {}
    while off < stop do
        local left = stop - off
        if left < SEG_HDR then
            return segs, string.format("truncated segment header: %d bytes at offset %d, need %d",
                left, off, SEG_HDR), off
        end
        local cmd = tvb(off + 4, 1):uint()
        if not CMD_NAMES[cmd] then
            return segs, string.format("unknown cmd %d at offset %d", cmd, off + 4), off
        end
        local s = {
            off = off,
            conv = tvb(off, 4):le_uint(),
            cmd = cmd,
            frg = tvb(off + 5, 1):uint(),
            wnd = tvb(off + 6, 2):le_uint(),
            ts = tvb(off + 8, 4):le_uint(),
            sn = tvb(off + 12, 4):le_uint(),
            una = tvb(off + 16, 4):le_uint(),
            len = tvb(off + 20, 4):le_uint(),
        }
        if s.len > left - SEG_HDR then
            return segs, string.format("len %d at offset %d exceeds the %d bytes left",
                s.len, off + 20, left - SEG_HDR), off
        end
        if strict then
            -- kcp-go writes conv, wnd and una once per flush: equal in all segments of a datagram
            local first = segs[1]
            if first and (s.conv ~= first.conv or s.wnd ~= first.wnd or s.una ~= first.una) then
                return segs, string.format("segment at offset %d differs from the first in conv, wnd or una",
                    off), off
            end
            if cmd ~= CMD_PUSH and (s.len ~= 0 or s.frg ~= 0) then
                return segs, string.format("%s at offset %d with frg %d len %d",
                    CMD_NAMES[cmd], off, s.frg, s.len), off
            end
        end
        segs[#segs + 1] = s
        off = off + SEG_HDR + s.len
    end
    if #segs == 0 then
        return segs, string.format("no segment at offset %d", off), off
    end
    return segs
end

-- parse_plain: result for plain framing (r.err set when malformed).
local function parse_plain(tvb, strict)
    local segs, err, eoff = scan_segments(tvb, 0, tvb:len(), strict)
    return { framing = "plain", segs = segs, err = err, eoff = eoff }
end

-- parse_fec: result for FEC framing (r.err set when malformed). detect adds the checks of
-- auto-detection that forced FEC framing skips: an OOB shard's seqid is 0xffffffff, and a
-- parity shard has at least 32 bytes with bytes 30..31 zero (Reed-Solomon is linear byte by
-- byte, and every data shard has zeros there: the high half of its first segment's len).
local function parse_fec(tvb, detect, strict)
    local n = tvb:len()
    local r = { framing = "fec", segs = {} }
    if n < FEC_HDR then
        r.err, r.eoff = string.format("%d bytes, too short for the %d-byte FEC header", n, FEC_HDR), 0
        return r
    end
    r.seqid = tvb(0, 4):le_uint()
    r.ftype = tvb(4, 2):le_uint()
    r.size = tvb(6, 2):le_uint()
    if not FEC_NAMES[r.ftype] then
        r.err, r.eoff = string.format("unknown FEC type 0x%04x at offset 4", r.ftype), 4
        return r
    end
    if r.ftype == FEC_PARITY then
        if detect and (n < PARITY_MIN or tvb(PARITY_ZERO, 2):uint() ~= 0) then
            r.err, r.eoff = string.format("parity shard of %d bytes without zero bytes %d..%d",
                n, PARITY_ZERO, PARITY_ZERO + 1), 0
        end
        return r
    end
    if r.size ~= n - 6 then
        r.err, r.eoff = string.format("FEC size %d at offset 6 does not match the %d bytes after the type",
            r.size, n - 6), 6
        return r
    end
    if r.ftype == FEC_OOB then
        if n < FEC_HDR + 4 then
            r.err, r.eoff = string.format("OOB shard of %d bytes has no conv", n), FEC_HDR
        elseif detect and r.seqid ~= OOB_SEQID then
            r.err, r.eoff = string.format("OOB seqid %d is not 0xffffffff", r.seqid), 0
        end
        return r
    end
    r.segs, r.err, r.eoff = scan_segments(tvb, FEC_HDR, n, strict)
    return r
end

local function looks_plain(tvb)
    return tvb:len() >= 5 and CMD_NAMES[tvb(4, 1):uint()] ~= nil
end

local function looks_fec(tvb)
    return tvb:len() >= 6 and FEC_NAMES[tvb(4, 1):uint()] ~= nil and tvb(5, 1):uint() == 0
end

-- classify applies the auto-detection rules. strict (heuristic) never returns
-- "encrypted" and returns nil unless the parse is fully consistent.
local function classify(tvb, strict)
    local plain, fec
    if looks_plain(tvb) then
        plain = parse_plain(tvb, strict)
        if not plain.err then return plain end
    elseif looks_fec(tvb) then
        fec = parse_fec(tvb, true, strict)
        if not fec.err then return fec end
    end
    if strict then return nil end
    if tvb:len() >= ENC_MIN then
        return { framing = "encrypted" }
    end
    if plain or fec then return plain or fec end
    return { framing = "not KCP", segs = {},
        err = string.format("%d bytes: no KCP segment or FEC header, too short to be encrypted (< %d)",
            tvb:len(), ENC_MIN),
        eoff = 0 }
end

-- ---------------------------------------------------------------------------------------
-- Sequence analysis

-- endpoints names the datagram's source and destination, "address/port".
local function endpoints(pinfo)
    return tostring(pinfo.src) .. "/" .. pinfo.src_port, tostring(pinfo.dst) .. "/" .. pinfo.dst_port
end

-- analyse records the segments of this frame on its first dissection (frames come in order then);
-- later passes read what it recorded. It reads pinfo as little as it can: it runs on every frame.
local function analyse(pinfo, segs)
    local n = pinfo.number
    if pinfo.visited then return n end
    local fwd, rev, t -- the flow's keys, and the frame's time, read at the first PUSH or ACK
    for i, s in ipairs(segs) do
        local cmd = s.cmd
        if (cmd == CMD_PUSH or cmd == CMD_ACK) and not fwd then
            local src, dst = endpoints(pinfo)
            fwd, rev, t = src .. ">" .. dst, dst .. ">" .. src, pinfo.rel_ts
        end
        local sn = s.sn
        if cmd == CMD_PUSH then
            local flow = pushes[fwd]
            if not flow then flow = {}; pushes[fwd] = flow end
            local q = flow[s.conv]
            if not q then
                q = { last = {}, ts = {}, t = {}, n = {}, first = {}, older = {}, spur = {}, arrived = {} }
                flow[s.conv] = q
            end
            local prev = q.last[sn]
            local idx = (q.n[sn] or 0) + 1
            if prev then
                local k = n * SEGS_MAX + i
                local first = q.first[sn] or prev
                q.first[sn] = first
                retrans_of[k] = first
                local older = q.older[sn] or {}
                q.older[sn] = older
                older[q.ts[sn]] = { prev, q.t[sn], q.n[sn] }
                if q.arrived[sn] then -- an ACK already showed an earlier copy arrived
                    local spur = q.spur[sn] or {}
                    q.spur[sn] = spur
                    spur[idx], spurious_of[k] = true, 1
                end
            end
            q.last[sn], q.ts[sn], q.t[sn], q.n[sn] = n, s.ts, t, idx
        elseif cmd == CMD_ACK then
            local flow = pushes[rev]
            local q = flow and flow[s.conv]
            local last = q and q.last[sn]
            if last then
                local k = n * SEGS_MAX + i
                -- the transmission whose ts the ACK echoes (most often the latest); none when the
                -- capture missed it
                local idx -- its index among the copies of sn
                if q.ts[sn] == s.ts then
                    acks_of[k], rtt_of[k], idx = last, t - q.t[sn], q.n[sn]
                else
                    local older = q.older[sn] and q.older[sn][s.ts]
                    if older then
                        acks_of[k], rtt_of[k], idx = older[1], t - older[2], older[3]
                    end
                end
                if idx then
                    -- that copy arrived: the copies sent after it were spurious, and later ones will be
                    q.arrived[sn] = true
                    if idx < q.n[sn] then
                        local spur = q.spur[sn] or {}
                        q.spur[sn] = spur
                        local c = 0
                        for j = idx + 1, q.n[sn] do
                            if not spur[j] then spur[j], c = true, c + 1 end
                        end
                        if c > 0 then spurious_of[k] = c end
                    end
                end
            end
        end
    end
    return n
end

-- add_marks adds the analysis of segment i of frame n to its subtree st.
local function add_marks(st, n, i)
    local k = n * SEGS_MAX + i
    local first = retrans_of[k]
    if first then
        st:add(f.retrans, first):set_generated()
        st:add_proto_expert_info(ef_retrans, string.format("Retransmission of the PUSH in frame %d", first))
        if spurious_of[k] then
            st:add(f.spurious, 1):set_generated()
            st:add_proto_expert_info(ef_spurious, "Spurious retransmission: an ACK already acknowledged an earlier copy")
        end
    end
    local sent = acks_of[k]
    if sent then
        st:add(f.acks, sent):set_generated()
        local rtt = rtt_of[k]
        local secs = math.floor(rtt)
        st:add(f.ack_rtt, NSTime.new(secs, math.floor((rtt - secs) * 1e9 + 0.5))):set_generated()
        local c = spurious_of[k]
        if c then
            st:add(f.spurious, c):set_generated()
            st:add_proto_expert_info(ef_spurious, string.format(
                "ACK of the PUSH in frame %d: %d later transmission(s) of it were spurious", sent, c))
        end
    end
end

-- ---------------------------------------------------------------------------------------
-- Rendering

local function seg_summary(s)
    local name = CMD_NAMES[s.cmd]
    if s.cmd == CMD_PUSH then
        local txt = string.format("%s sn=%d una=%d len=%d", name, s.sn, s.una, s.len)
        if s.frg > 0 then txt = txt .. string.format(" frg=%d", s.frg) end
        return txt
    elseif s.cmd == CMD_ACK then
        return string.format("%s sn=%d una=%d", name, s.sn, s.una)
    end
    return string.format("%s una=%d wnd=%d", name, s.una, s.wnd)
end

local function add_segments(tvb, pinfo, root, segs)
    local parts = {}
    local n = analyze and analyse(pinfo, segs)
    for i, s in ipairs(segs) do
        local txt = seg_summary(s)
        local k = n and n * SEGS_MAX + i
        if k and retrans_of[k] then
            txt = (spurious_of[k] and "[Spurious Retransmission] " or "[Retransmission] ") .. txt
        end
        parts[#parts + 1] = txt
        local st = root:add(tvb(s.off, SEG_HDR + s.len), string.format("Segment %d: %s", i, txt))
        st:add_le(f.conv, tvb(s.off, 4))
        st:add_le(f.cmd, tvb(s.off + 4, 1))
        st:add_le(f.frg, tvb(s.off + 5, 1))
        st:add_le(f.wnd, tvb(s.off + 6, 2))
        st:add_le(f.ts, tvb(s.off + 8, 4))
        st:add_le(f.sn, tvb(s.off + 12, 4))
        st:add_le(f.una, tvb(s.off + 16, 4))
        st:add_le(f.len, tvb(s.off + 20, 4))
        if s.len > 0 then
            st:add(f.data, tvb(s.off + SEG_HDR, s.len))
        end
        if n then add_marks(st, n, i) end
    end
    return table.concat(parts, ", ")
end

local function add_fec(tvb, pinfo, root, r)
    local n = tvb:len()
    if not r.seqid then return "FEC" end
    local name = FEC_NAMES[r.ftype] or string.format("0x%04x", r.ftype)
    local ft = root:add(tvb(0, FEC_HDR), string.format("FEC header: %s seq=%d", name, r.seqid))
    ft:add_le(f.fec_seqid, tvb(0, 4))
    ft:add_le(f.fec_type, tvb(4, 2))
    local size = ft:add_le(f.fec_size, tvb(6, 2))
    if r.ftype == FEC_PARITY then size:append_text(" (parity: Reed-Solomon bytes, not a length)") end
    local head = string.format("FEC %s seq=%d", name, r.seqid)
    if r.ftype == FEC_DATA then
        local body = add_segments(tvb, pinfo, root, r.segs)
        if body ~= "" then head = head .. ": " .. body end
    elseif r.ftype == FEC_PARITY then
        if n > FEC_HDR then root:add(f.fec_parity, tvb(FEC_HDR, n - FEC_HDR)) end
    elseif r.ftype == FEC_OOB and n >= FEC_HDR + 4 then
        root:add_le(f.oob_conv, tvb(FEC_HDR, 4))
        if n > FEC_HDR + 4 then root:add(f.oob_data, tvb(FEC_HDR + 4, n - FEC_HDR - 4)) end
        head = string.format("FEC oob (%d bytes)", n - FEC_HDR - 4)
    end
    return head
end

local function render(tvb, pinfo, tree, r)
    local n = tvb:len()
    pinfo.cols.protocol = "KCP"
    local label = "KCP, " .. r.framing
    local nsegs = r.segs and #r.segs or 0
    if nsegs > 0 then label = label .. string.format(", %d segment%s", nsegs, nsegs > 1 and "s" or "") end
    local root = tree:add(kcp, tvb(), label)
    root:add(f.framing, r.framing):set_generated()
    local info
    if r.framing == "encrypted" then
        root:add(f.encrypted, tvb())
        info = string.format("encrypted (%d bytes)", n)
    elseif r.framing == "fec" then
        info = add_fec(tvb, pinfo, root, r)
    elseif r.framing == "plain" then
        info = add_segments(tvb, pinfo, root, r.segs)
    else
        info = r.framing
    end
    if r.err then
        local off = math.min(r.eoff or 0, n - 1)
        root:add_proto_expert_info(ef_malformed, "malformed: " .. r.err)
        if off >= 0 then root:add(tvb(off, n - off), "Unparsed: " .. r.err) end
        info = (info ~= "" and info .. " " or "") .. "[malformed: " .. r.err .. "]"
    end
    pinfo.cols.info:set(info)
end

-- ---------------------------------------------------------------------------------------
-- Entry points

local function dissect(tvb, pinfo, tree)
    local mode = kcp.prefs.framing
    local r
    if mode == MODE_PLAIN then
        r = parse_plain(tvb, false)
    elseif mode == MODE_FEC then
        r = parse_fec(tvb, false, false)
    elseif mode == MODE_ENC then
        r = { framing = "encrypted" }
        if tvb:len() < ENC_MIN then
            r.err = string.format("%d bytes, shorter than the %d-byte minimum of encrypted kcp-go traffic",
                tvb:len(), ENC_MIN)
        end
    else
        r = classify(tvb, false)
    end
    render(tvb, pinfo, tree, r)
end

-- safe runs fn and turns any Lua error into a malformed expert item instead of an error.
local function safe(fn, tvb, pinfo, tree)
    local ok, err = pcall(fn, tvb, pinfo, tree)
    if not ok then
        local root = tree:add(kcp, tvb(), "KCP")
        root:add_proto_expert_info(ef_malformed, "malformed: " .. tostring(err))
    end
end

function kcp.dissector(tvb, pinfo, tree)
    if tvb:len() == 0 then return 0 end
    safe(dissect, tvb, pinfo, tree)
    return tvb:len()
end

-- flow_key names a UDP flow whichever way the datagram goes.
local function flow_key(pinfo)
    local a, b = endpoints(pinfo)
    if a > b then a, b = b, a end
    return a .. "|" .. b
end

local function heuristic(tvb, pinfo, tree)
    local ok, r = pcall(classify, tvb, true)
    if not ok or not r then return false end
    if r.framing == "fec" then
        local key = flow_key(pinfo)
        if r.ftype == FEC_DATA then
            local known = fec_flows[key]
            if not known or pinfo.number < known then fec_flows[key] = pinfo.number end
        elseif r.ftype == FEC_PARITY and (not fec_flows[key] or pinfo.number <= fec_flows[key]) then
            return false -- a parity shard has little to check: only on flows with data shards
        end
    end
    safe(function(t, p, tr) render(t, p, tr, r) end, tvb, pinfo, tree)
    return true
end

function kcp.init()
    fec_flows, pushes, retrans_of, acks_of, rtt_of, spurious_of = {}, {}, {}, {}, {}, {}
end

local registered_ports = ""

function kcp.prefs_changed()
    analyze = kcp.prefs.analyze
    local udp = DissectorTable.get("udp.port")
    local ports = tostring(kcp.prefs.ports)
    if ports == registered_ports then return end
    if registered_ports ~= "" then udp:remove(registered_ports, kcp) end
    if ports ~= "" then udp:add(ports, kcp) end
    registered_ports = ports
end

DissectorTable.get("udp.port"):add_for_decode_as(kcp)
kcp:register_heuristic("udp", heuristic)
