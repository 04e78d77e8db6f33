package protocol

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// File transfers (receive_files): a browser streams a file to the desktop
// over the two existing sockets. The JSON frames below open, acknowledge,
// end and cancel a transfer; the bytes travel in binary frames (Chunk). The
// agent grants a window of chunks and acknowledges each as it is written,
// so a slow desktop slows the sender and the relay holds at most a window
// of chunks per transfer. Every transfer ends with exactly one result,
// whose id is the transfer's. See PROTOCOL.md §"Sending files".
const (
	// TypeFileBegin (client → relay → agent) opens transfer id: Data is a FileBegin.
	TypeFileBegin = "file_begin"
	// TypeFileAck (agent → relay → client): Data is a FileAck. The first
	// one accepts the transfer; chunks may flow only after it.
	TypeFileAck = "file_ack"
	// TypeFileEnd (client → relay → agent): every chunk was sent; Data is
	// a FileEnd carrying the SHA-256 the sender computed.
	TypeFileEnd = "file_end"
	// TypeFileCancel (client → relay → agent): stop transfer id. The
	// relay sends it to the agent too when the sender is gone. The agent
	// answers with the transfer's result (code cancelled).
	TypeFileCancel = "file_cancel"
)

// Error codes of transfers, beside the contract's.
const (
	CodeCancelled    = "cancelled"     // the sender, or the relay for a sender gone, stopped the transfer
	CodeDiskFull     = "disk_full"     // the desktop has not enough free space for the file
	CodeHashMismatch = "hash_mismatch" // what arrived does not have the SHA-256 the sender computed
)

// Limits of transfers.
const (
	MaxChunk        = 48 << 10  // payload bytes in one binary chunk frame
	MaxWindow       = 16        // chunks a sender may have unacknowledged, at most
	DefaultWindow   = 8         // the window an agent grants
	MaxFileNameLen  = 255       // bytes in FileBegin.Name
	MaxMIMELen      = 127       // bytes in FileBegin.MIME
	DefaultMaxFile  = 100 << 20 // bytes in one file the agent accepts unless its owner says otherwise
	MaxTransfers    = 4         // transfers one client socket may have open at once
	chunkHeaderBase = 1 + 1 + 4 // kind, id length, sequence
)

// FileBegin is the Data of a file_begin: what the file is. From is set by
// the relay on its way to the agent (who sent it, for the notification);
// a client's From is ignored.
type FileBegin struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	MIME string `json:"mime,omitempty"`
	From string `json:"from,omitempty"`
}

// Args returns b's fields as the arguments of the receive_files command,
// which the relay and the agent check against the advertised spec.
func (b FileBegin) Args() []byte {
	return MustData(map[string]any{"name": b.Name, "size": b.Size, "mime": b.MIME})
}

// FileAck is the Data of a file_ack: the agent has written chunks 0 to
// Next−1, and the sender may send chunks up to Next+Window−1.
type FileAck struct {
	Next   uint32 `json:"next"`
	Window int    `json:"window"`
}

// FileEnd is the Data of a file_end: how many chunks were sent and the
// SHA-256 of the whole file, in lower-case hex.
type FileEnd struct {
	Chunks uint32 `json:"chunks"`
	SHA256 string `json:"sha256"`
}

// FileResult is the Data of a transfer's successful result.
type FileResult struct {
	SavedAs string `json:"saved_as"` // the file's name in the folder (it may differ from the name sent)
	Folder  string `json:"folder"`   // the folder, as the desktop's owner sees it (e.g. "Downloads/Tether")
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

// IsTransferType reports whether t is one of the JSON frame types of a transfer.
func IsTransferType(t string) bool {
	return t == TypeFileBegin || t == TypeFileAck || t == TypeFileEnd || t == TypeFileCancel
}

// ChunkKind is the first byte of a binary chunk frame.
const ChunkKind byte = 'F'

// Chunk is one binary frame of a transfer: byte 0 is ChunkKind, byte 1 the
// length n of the transfer id (1–MaxIDLen), then the id, then the chunk's
// sequence number (uint32, big endian, from 0), then the payload
// (1–MaxChunk bytes). The largest frame (6 + 128 + 48 KiB) fits a
// client's 64 KiB limit.
type Chunk struct {
	ID   string
	Seq  uint32
	Data []byte // aliases the frame it was parsed from
}

// AppendChunk appends the frame of a chunk to dst and returns it.
func AppendChunk(dst []byte, id string, seq uint32, data []byte) []byte {
	dst = append(dst, ChunkKind, byte(len(id)))
	dst = append(dst, id...)
	dst = binary.BigEndian.AppendUint32(dst, seq)
	return append(dst, data...)
}

// ParseChunk reads a binary chunk frame. Its Data aliases frame. Every
// refusal is an *Error with code bad_request.
func ParseChunk(frame []byte) (Chunk, error) {
	if len(frame) < chunkHeaderBase+1 || frame[0] != ChunkKind {
		return Chunk{}, Errorf(CodeBadRequest, "binary frame is not a file chunk")
	}
	n := int(frame[1])
	if n == 0 || n > MaxIDLen || len(frame) < chunkHeaderBase+n+1 {
		return Chunk{}, Errorf(CodeBadRequest, "file chunk with a bad id or no data")
	}
	id := string(frame[2 : 2+n])
	if !IsDisplayText(id) || strings.ContainsRune(id, ' ') {
		return Chunk{}, Errorf(CodeBadRequest, "file chunk id has control characters")
	}
	data := frame[2+n+4:]
	if len(data) > MaxChunk {
		return Chunk{}, Errorf(CodeBadRequest, "file chunk larger than %d bytes", MaxChunk)
	}
	return Chunk{ID: id, Seq: binary.BigEndian.Uint32(frame[2+n:]), Data: data}, nil
}

// Chunks returns how many chunks a file of size bytes takes.
func Chunks(size int64) uint32 {
	return uint32((size + MaxChunk - 1) / MaxChunk)
}

// CheckFileEnd checks a file_end's data: a known chunk count and a SHA-256
// in hex. It returns the SHA-256 in lower case.
func CheckFileEnd(e FileEnd) (string, *Error) {
	s := strings.ToLower(e.SHA256)
	if len(s) != 64 || !utf8.ValidString(s) {
		return "", Errorf(CodeBadRequest, "file_end: sha256 must be 64 hex digits")
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", Errorf(CodeBadRequest, "file_end: sha256 must be 64 hex digits")
	}
	return s, nil
}

// ReceiveFilesSpec is the spec an agent advertises for receive_files when
// it accepts files of at most maxSize bytes.
func ReceiveFilesSpec(maxSize int64) CommandSpec {
	return CommandSpec{
		Name:        CommandReceiveFiles,
		Title:       "Send photo or file",
		Description: "Files sent from the page are saved in the Downloads folder, under Tether",
		Args: []ArgSpec{
			{Name: "name", Type: ArgString, Required: true, MaxLen: MaxFileNameLen},
			{Name: "size", Type: ArgInteger, Required: true, Min: Float(0), Max: Float(float64(maxSize))},
			{Name: "mime", Type: ArgString, MaxLen: MaxMIMELen},
		},
	}
}
