package wire

import "strconv"

// This file holds the topology plug-in bodies of RFC 6940 §6.4.2 (Join,
// Leave, Update, RouteQuery) and their CHORD-RELOAD contents (§10.7-10.9).
//
// Types that contain bare NodeIds carry an IDLen decode parameter: the
// overlay's node-id-length (16 to 20; 0 means DefaultNodeIDLen). Decode
// reads it and never overwrites it; Append requires every NodeID to have
// that length, so what is encoded decodes again with the same IDLen.

// topoCheckID checks that id is a NodeID of the overlay's length.
func topoCheckID(id *NodeID, idLen int) error {
	if id.Len() != nodeIDLen(idLen) {
		return ErrInvalid
	}
	return nil
}

// topoDecodeIDs decodes a NodeId<0..2^16-1> list from the start of r,
// reusing list's capacity. Errors name field (or field[i]) at the offset
// inside r's buffer.
func topoDecodeIDs(list []NodeID, r *Reader, idLen int, field string) ([]NodeID, error) {
	list = list[:0]
	off := r.Offset()
	v, err := r.ReadVec16()
	if err != nil {
		return list, fieldErr(err, field, off)
	}
	vr := NewReader(v)
	for !vr.Empty() {
		o := vr.Offset()
		id, err := vr.ReadNodeID(idLen)
		if err != nil {
			return list, indexErr(err, field, len(list), off+2+o)
		}
		list = append(list, id)
	}
	return list, nil
}

// topoAppendIDs appends list as a NodeId<0..2^16-1>.
func topoAppendIDs(b []byte, list []NodeID, idLen int, field string) ([]byte, error) {
	if 2+len(list)*nodeIDLen(idLen) > 0xffff+2 {
		return b, fieldErr(ErrTooLong, field, 0)
	}
	b = AppendU16(b, uint16(len(list)*nodeIDLen(idLen)))
	for i := range list {
		if err := topoCheckID(&list[i], idLen); err != nil {
			return b, indexErr(err, field, i, 2+i*nodeIDLen(idLen))
		}
		b = append(b, list[i].Bytes()...)
	}
	return b, nil
}

// topoIDsLen is the encoded size of a NodeId<0..2^16-1> list.
func topoIDsLen(list []NodeID, idLen int) int { return 2 + len(list)*nodeIDLen(idLen) }

// topoDecodeIDData decodes a body made of one bare NodeId and an
// overlay_specific_data<0..2^16-1>, filling b exactly.
func topoDecodeIDData(b []byte, idLen int, name, idField string) (NodeID, []byte, int, error) {
	r := NewReader(b)
	id, err := r.ReadNodeID(idLen)
	if err != nil {
		return id, nil, 0, fieldErr(err, name+"."+idField, 0)
	}
	off := r.Offset()
	data, err := r.ReadVec16()
	if err != nil {
		return id, nil, 0, fieldErr(err, name+".overlay_specific_data", off)
	}
	if !r.Empty() {
		return id, nil, 0, fieldErr(ErrTrailingData, name, r.Offset())
	}
	return id, data, r.Offset(), nil
}

func topoAppendIDData(b []byte, id *NodeID, data []byte, idLen int, name, idField string) ([]byte, error) {
	if err := topoCheckID(id, idLen); err != nil {
		return b, fieldErr(err, name+"."+idField, 0)
	}
	b = append(b, id.Bytes()...)
	b, err := AppendVec16(b, data)
	if err != nil {
		return b, fieldErr(err, name+".overlay_specific_data", id.Len())
	}
	return b, nil
}

// JoinReq is the body of join_req (RFC 6940 §6.4.2.1):
//
//	struct {
//	   NodeId                joining_peer_id;
//	   opaque                overlay_specific_data<0..2^16-1>;
//	} JoinReq;
//
// CHORD-RELOAD defines no overlay_specific_data for Join (§10.5), so it
// is empty there. IDLen is a decode parameter (the overlay's Node-ID
// length, 0 meaning DefaultNodeIDLen) that Decode reads and does not
// overwrite. OverlaySpecificData aliases the decoded input.
type JoinReq struct {
	JoiningPeerID       NodeID
	OverlaySpecificData []byte
	IDLen               int
}

// Len is the encoded size.
func (j *JoinReq) Len() int { return nodeIDLen(j.IDLen) + 2 + len(j.OverlaySpecificData) }

// Decode reads a JoinReq that fills b exactly.
func (j *JoinReq) Decode(b []byte) (int, error) {
	id, data, n, err := topoDecodeIDData(b, j.IDLen, "JoinReq", "joining_peer_id")
	if err != nil {
		return 0, err
	}
	j.JoiningPeerID, j.OverlaySpecificData = id, data
	return n, nil
}

// Append appends the encoding of j.
func (j *JoinReq) Append(b []byte) ([]byte, error) {
	return topoAppendIDData(b, &j.JoiningPeerID, j.OverlaySpecificData, j.IDLen, "JoinReq", "joining_peer_id")
}

// JoinAns is the body of join_ans (RFC 6940 §6.4.2.1):
//
//	struct {
//	   opaque                overlay_specific_data<0..2^16-1>;
//	} JoinAns;
//
// OverlaySpecificData (empty for CHORD-RELOAD) aliases the decoded input.
type JoinAns struct {
	OverlaySpecificData []byte
}

// Len is the encoded size.
func (j *JoinAns) Len() int { return 2 + len(j.OverlaySpecificData) }

// Decode reads a JoinAns that fills b exactly.
func (j *JoinAns) Decode(b []byte) (int, error) {
	r := NewReader(b)
	data, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "JoinAns.overlay_specific_data", 0)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "JoinAns", r.Offset())
	}
	j.OverlaySpecificData = data
	return r.Offset(), nil
}

// Append appends the encoding of j.
func (j *JoinAns) Append(b []byte) ([]byte, error) {
	b, err := AppendVec16(b, j.OverlaySpecificData)
	if err != nil {
		return b, fieldErr(err, "JoinAns.overlay_specific_data", 0)
	}
	return b, nil
}

// LeaveReq is the body of leave_req (RFC 6940 §6.4.2.2):
//
//	struct {
//	   NodeId                leaving_peer_id;
//	   opaque                overlay_specific_data<0..2^16-1>;
//	} LeaveReq;
//
// For CHORD-RELOAD, OverlaySpecificData holds an encoded ChordLeaveData
// (§10.9). IDLen is a decode parameter (the overlay's Node-ID length, 0
// meaning DefaultNodeIDLen) that Decode reads and does not overwrite.
// OverlaySpecificData aliases the decoded input.
type LeaveReq struct {
	LeavingPeerID       NodeID
	OverlaySpecificData []byte
	IDLen               int
}

// Len is the encoded size.
func (l *LeaveReq) Len() int { return nodeIDLen(l.IDLen) + 2 + len(l.OverlaySpecificData) }

// Decode reads a LeaveReq that fills b exactly.
func (l *LeaveReq) Decode(b []byte) (int, error) {
	id, data, n, err := topoDecodeIDData(b, l.IDLen, "LeaveReq", "leaving_peer_id")
	if err != nil {
		return 0, err
	}
	l.LeavingPeerID, l.OverlaySpecificData = id, data
	return n, nil
}

// Append appends the encoding of l.
func (l *LeaveReq) Append(b []byte) ([]byte, error) {
	return topoAppendIDData(b, &l.LeavingPeerID, l.OverlaySpecificData, l.IDLen, "LeaveReq", "leaving_peer_id")
}

// LeaveAns is the body of leave_ans, which is empty (RFC 6940 §6.4.2.2).
type LeaveAns struct{}

// Len is the encoded size (0).
func (*LeaveAns) Len() int { return 0 }

// Decode accepts only an empty b.
func (*LeaveAns) Decode(b []byte) (int, error) { return linkDecodeEmpty(b, "LeaveAns") }

// Append appends nothing.
func (*LeaveAns) Append(b []byte) ([]byte, error) { return b, nil }

// ChordUpdateType is the type of a CHORD-RELOAD Update (RFC 6940 §10.7).
type ChordUpdateType uint8

// Chord update types.
const (
	ChordUpdateInvalid   ChordUpdateType = 0
	ChordUpdatePeerReady ChordUpdateType = 1
	ChordUpdateNeighbors ChordUpdateType = 2
	ChordUpdateFull      ChordUpdateType = 3
)

func (t ChordUpdateType) String() string {
	switch t {
	case ChordUpdateInvalid:
		return "invalidChordUpdateType"
	case ChordUpdatePeerReady:
		return "peer_ready"
	case ChordUpdateNeighbors:
		return "neighbors"
	case ChordUpdateFull:
		return "full"
	}
	return "ChordUpdateType(" + strconv.Itoa(int(t)) + ")"
}

// ChordUpdate is the body of update_req in CHORD-RELOAD (RFC 6940 §10.7):
//
//	enum { invalidChordUpdateType(0),
//	       peer_ready(1), neighbors(2), full(3), (255) }
//	     ChordUpdateType;
//
//	struct {
//	   uint32                 uptime;
//	   ChordUpdateType        type;
//	   select (type){
//	    case peer_ready:                   /* Empty */
//	      ;
//
//	    case neighbors:
//	      NodeId              predecessors<0..2^16-1>;
//	      NodeId              successors<0..2^16-1>;
//
//	    case full:
//	      NodeId              predecessors<0..2^16-1>;
//	      NodeId              successors<0..2^16-1>;
//	      NodeId              fingers<0..2^16-1>;
//	  };
//	} ChordUpdate;
//
// Uptime is in seconds. The select is not marked extensible, so types
// other than 1-3 are ErrInvalid. Lists the type does not carry are emptied
// by Decode, and Append rejects them when non-empty (ErrInvalid) rather
// than drop them. Fingers are in ascending numeric order on the wire (not
// checked). IDLen is a decode parameter (the overlay's Node-ID length, 0
// meaning DefaultNodeIDLen) that Decode reads and does not overwrite.
// Decode reuses the capacity of the three lists.
type ChordUpdate struct {
	Uptime       uint32
	Type         ChordUpdateType
	Predecessors []NodeID
	Successors   []NodeID
	Fingers      []NodeID
	IDLen        int
}

// Len is the encoded size.
func (u *ChordUpdate) Len() int {
	n := 5
	switch u.Type {
	case ChordUpdateNeighbors:
		n += topoIDsLen(u.Predecessors, u.IDLen) + topoIDsLen(u.Successors, u.IDLen)
	case ChordUpdateFull:
		n += topoIDsLen(u.Predecessors, u.IDLen) + topoIDsLen(u.Successors, u.IDLen) + topoIDsLen(u.Fingers, u.IDLen)
	}
	return n
}

// Decode reads a ChordUpdate that fills b exactly.
func (u *ChordUpdate) Decode(b []byte) (int, error) {
	r := NewReader(b)
	up, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "ChordUpdate.uptime", 0)
	}
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "ChordUpdate.type", 4)
	}
	u.Uptime, u.Type = up, ChordUpdateType(t)
	u.Predecessors, u.Successors, u.Fingers = u.Predecessors[:0], u.Successors[:0], u.Fingers[:0]
	switch u.Type {
	case ChordUpdatePeerReady:
	case ChordUpdateNeighbors, ChordUpdateFull:
		if u.Predecessors, err = topoDecodeIDs(u.Predecessors, &r, u.IDLen, "ChordUpdate.predecessors"); err != nil {
			return 0, err
		}
		if u.Successors, err = topoDecodeIDs(u.Successors, &r, u.IDLen, "ChordUpdate.successors"); err != nil {
			return 0, err
		}
		if u.Type == ChordUpdateFull {
			if u.Fingers, err = topoDecodeIDs(u.Fingers, &r, u.IDLen, "ChordUpdate.fingers"); err != nil {
				return 0, err
			}
		}
	default:
		return 0, fieldErr(ErrInvalid, "ChordUpdate.type", 4)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "ChordUpdate", r.Offset())
	}
	return r.Offset(), nil
}

// Append appends the encoding of u.
func (u *ChordUpdate) Append(b []byte) ([]byte, error) {
	switch u.Type {
	case ChordUpdatePeerReady:
		if len(u.Predecessors) > 0 {
			return b, fieldErr(ErrInvalid, "ChordUpdate.predecessors", 5)
		}
		if len(u.Successors) > 0 {
			return b, fieldErr(ErrInvalid, "ChordUpdate.successors", 5)
		}
		fallthrough
	case ChordUpdateNeighbors:
		if len(u.Fingers) > 0 {
			return b, fieldErr(ErrInvalid, "ChordUpdate.fingers", 5)
		}
	case ChordUpdateFull:
	default:
		return b, fieldErr(ErrInvalid, "ChordUpdate.type", 4)
	}
	b = AppendU32(b, u.Uptime)
	b = append(b, byte(u.Type))
	if u.Type == ChordUpdatePeerReady {
		return b, nil
	}
	b, err := topoAppendIDs(b, u.Predecessors, u.IDLen, "ChordUpdate.predecessors")
	if err != nil {
		return b, err
	}
	if b, err = topoAppendIDs(b, u.Successors, u.IDLen, "ChordUpdate.successors"); err != nil {
		return b, err
	}
	if u.Type == ChordUpdateFull {
		if b, err = topoAppendIDs(b, u.Fingers, u.IDLen, "ChordUpdate.fingers"); err != nil {
			return b, err
		}
	}
	return b, nil
}

// UpdateAns is the body of update_ans (RFC 6940 §6.4.2.3): the answer is
// "either success or an error", and CHORD-RELOAD (§10.7) defines no
// contents, so the body is empty.
type UpdateAns struct{}

// Len is the encoded size (0).
func (*UpdateAns) Len() int { return 0 }

// Decode accepts only an empty b.
func (*UpdateAns) Decode(b []byte) (int, error) { return linkDecodeEmpty(b, "UpdateAns") }

// Append appends nothing.
func (*UpdateAns) Append(b []byte) ([]byte, error) { return b, nil }

// RouteQueryReq is the body of route_query_req (RFC 6940 §6.4.2.4.1):
//
//	struct {
//	  Boolean                send_update;
//	  Destination            destination;
//	  opaque                 overlay_specific_data<0..2^16-1>;
//	} RouteQueryReq;
//
// CHORD-RELOAD puts nothing in overlay_specific_data (§10.8). Destination
// and OverlaySpecificData alias the decoded input.
type RouteQueryReq struct {
	SendUpdate          bool
	Destination         Destination
	OverlaySpecificData []byte
}

// Len is the encoded size.
func (q *RouteQueryReq) Len() int { return 1 + q.Destination.Len() + 2 + len(q.OverlaySpecificData) }

// Decode reads a RouteQueryReq that fills b exactly.
func (q *RouteQueryReq) Decode(b []byte) (int, error) {
	r := NewReader(b)
	su, err := r.ReadBool()
	if err != nil {
		return 0, fieldErr(err, "RouteQueryReq.send_update", 0)
	}
	var d Destination
	n, err := d.Decode(r.Peek())
	if err != nil {
		return 0, fieldErr(err, "RouteQueryReq.destination", 1)
	}
	_ = r.Skip(n)
	off := r.Offset()
	data, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "RouteQueryReq.overlay_specific_data", off)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "RouteQueryReq", r.Offset())
	}
	q.SendUpdate, q.Destination, q.OverlaySpecificData = su, d, data
	return r.Offset(), nil
}

// Append appends the encoding of q.
func (q *RouteQueryReq) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = AppendBool(b, q.SendUpdate)
	b, err := q.Destination.Append(b)
	if err != nil {
		return b, fieldErr(err, "RouteQueryReq.destination", 1)
	}
	off := len(b) - start
	if b, err = AppendVec16(b, q.OverlaySpecificData); err != nil {
		return b, fieldErr(err, "RouteQueryReq.overlay_specific_data", off)
	}
	return b, nil
}

// ChordRouteQueryAns is the body of route_query_ans in CHORD-RELOAD
// (RFC 6940 §10.8):
//
//	struct {
//	   NodeId                  next_peer;
//	} ChordRouteQueryAns;
//
// IDLen is a decode parameter (the overlay's Node-ID length, 0 meaning
// DefaultNodeIDLen) that Decode reads and does not overwrite.
type ChordRouteQueryAns struct {
	NextPeer NodeID
	IDLen    int
}

// Len is the encoded size.
func (a *ChordRouteQueryAns) Len() int { return nodeIDLen(a.IDLen) }

// Decode reads a ChordRouteQueryAns that fills b exactly.
func (a *ChordRouteQueryAns) Decode(b []byte) (int, error) {
	r := NewReader(b)
	id, err := r.ReadNodeID(a.IDLen)
	if err != nil {
		return 0, fieldErr(err, "ChordRouteQueryAns.next_peer", 0)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "ChordRouteQueryAns", r.Offset())
	}
	a.NextPeer = id
	return r.Offset(), nil
}

// Append appends the encoding of a.
func (a *ChordRouteQueryAns) Append(b []byte) ([]byte, error) {
	if err := topoCheckID(&a.NextPeer, a.IDLen); err != nil {
		return b, fieldErr(err, "ChordRouteQueryAns.next_peer", 0)
	}
	return append(b, a.NextPeer.Bytes()...), nil
}

// ChordLeaveType says which neighbor sent a CHORD-RELOAD Leave (RFC 6940
// §10.9).
type ChordLeaveType uint8

// Chord leave types.
const (
	ChordLeaveInvalid  ChordLeaveType = 0
	ChordLeaveFromSucc ChordLeaveType = 1
	ChordLeaveFromPred ChordLeaveType = 2
)

func (t ChordLeaveType) String() string {
	switch t {
	case ChordLeaveInvalid:
		return "invalidChordLeaveType"
	case ChordLeaveFromSucc:
		return "from_succ"
	case ChordLeaveFromPred:
		return "from_pred"
	}
	return "ChordLeaveType(" + strconv.Itoa(int(t)) + ")"
}

// ChordLeaveData is the overlay_specific_data of a CHORD-RELOAD LeaveReq
// (RFC 6940 §10.9):
//
//	enum { invalidChordLeaveType(0),
//	        from_succ(1), from_pred(2), (255) }
//	      ChordLeaveType;
//
//	struct {
//	  ChordLeaveType         type;
//
//	   select (type) {
//	     case from_succ:
//	       NodeId            successors<0..2^16-1>;
//
//	     case from_pred:
//	       NodeId           predecessors<0..2^16-1>;
//	   };
//	} ChordLeaveData;
//
// There is no length field: the list follows the type byte directly. The
// sender's successor list (from_succ) goes in Successors, its predecessor
// list (from_pred) in Predecessors; Decode empties the other list and
// Append rejects it when non-empty. The select is not marked extensible,
// so other types are ErrInvalid. Since the structure is the whole
// overlay_specific_data, Decode requires it to fill b exactly. IDLen is a
// decode parameter (the overlay's Node-ID length, 0 meaning
// DefaultNodeIDLen) that Decode reads and does not overwrite. Decode
// reuses the capacity of both lists.
type ChordLeaveData struct {
	Type         ChordLeaveType
	Successors   []NodeID
	Predecessors []NodeID
	IDLen        int
}

// Len is the encoded size.
func (d *ChordLeaveData) Len() int {
	switch d.Type {
	case ChordLeaveFromSucc:
		return 1 + topoIDsLen(d.Successors, d.IDLen)
	case ChordLeaveFromPred:
		return 1 + topoIDsLen(d.Predecessors, d.IDLen)
	}
	return 1
}

// Decode reads a ChordLeaveData that fills b exactly.
func (d *ChordLeaveData) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "ChordLeaveData.type", 0)
	}
	d.Type = ChordLeaveType(t)
	d.Successors, d.Predecessors = d.Successors[:0], d.Predecessors[:0]
	switch d.Type {
	case ChordLeaveFromSucc:
		if d.Successors, err = topoDecodeIDs(d.Successors, &r, d.IDLen, "ChordLeaveData.successors"); err != nil {
			return 0, err
		}
	case ChordLeaveFromPred:
		if d.Predecessors, err = topoDecodeIDs(d.Predecessors, &r, d.IDLen, "ChordLeaveData.predecessors"); err != nil {
			return 0, err
		}
	default:
		return 0, fieldErr(ErrInvalid, "ChordLeaveData.type", 0)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "ChordLeaveData", r.Offset())
	}
	return r.Offset(), nil
}

// Append appends the encoding of d.
func (d *ChordLeaveData) Append(b []byte) ([]byte, error) {
	switch d.Type {
	case ChordLeaveFromSucc:
		if len(d.Predecessors) > 0 {
			return b, fieldErr(ErrInvalid, "ChordLeaveData.predecessors", 1)
		}
		return topoAppendIDs(append(b, byte(d.Type)), d.Successors, d.IDLen, "ChordLeaveData.successors")
	case ChordLeaveFromPred:
		if len(d.Successors) > 0 {
			return b, fieldErr(ErrInvalid, "ChordLeaveData.successors", 1)
		}
		return topoAppendIDs(append(b, byte(d.Type)), d.Predecessors, d.IDLen, "ChordLeaveData.predecessors")
	}
	return b, fieldErr(ErrInvalid, "ChordLeaveData.type", 0)
}
