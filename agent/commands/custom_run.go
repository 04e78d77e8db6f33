package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
)

// MaxCustomOutput bounds what is kept of a custom command's stdout, and of
// its stderr: the rest is read and dropped, so the command never blocks on
// a full pipe.
const MaxCustomOutput = 64 << 10

// CustomResult is the data of a custom command's result.
type CustomResult struct {
	ExitCode        int    `json:"exit_code"` // -1 when a signal ended the program
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdout_truncated,omitempty"` // more than MaxCustomOutput bytes were written
	StderrTruncated bool   `json:"stderr_truncated,omitempty"`
}

// RunCustom runs def with args (validated against def.Spec()): without a
// shell, each "{name}" element of argv replaced by its argument as one
// element, in a clean environment (cleanEnv) and the user's home directory,
// in a process group of its own, stdin empty. It blocks until the program
// exits; past def.Timeout() (or when ctx ends) it kills the whole group and
// returns a *protocol.Error with code timeout. A program that exits, with
// any code, is a CustomResult; processes it left behind keep running, but
// their output is no longer waited for after customKillWait.
func RunCustom(ctx context.Context, def CustomDef, args map[string]any) (CustomResult, error) {
	argv, err := expandArgv(def.Argv, args)
	if err != nil {
		return CustomResult{}, err
	}
	prog, err := lookProgram(argv[0])
	if err != nil {
		return CustomResult{}, protocol.Errorf(protocol.CodeUnavailable, "%s: %v", def.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, def.Timeout())
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = cleanEnv()
	cmd.Dir = homeDir()
	var stdout, stderr cappedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ownGroup(cmd)
	cmd.WaitDelay = customKillWait
	err = cmd.Run()
	res := CustomResult{
		Stdout: stdout.String(), Stderr: stderr.String(),
		StdoutTruncated: stdout.truncated(), StderrTruncated: stderr.truncated(),
	}
	if ctx.Err() != nil {
		return res, protocol.Errorf(protocol.CodeTimeout, "%s did not finish within %v: its processes were killed", def.Name, def.Timeout())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.As(err, &exitErr), errors.Is(err, exec.ErrWaitDelay):
		res.ExitCode = cmd.ProcessState.ExitCode()
		return res, nil
	default:
		return res, protocol.Errorf(protocol.CodeUnavailable, "%s: cannot start %s: %v", def.Name, argv[0], err)
	}
}

// expandArgv replaces each "{name}" element of argv by args[name] as text;
// an absent optional argument removes its element.
func expandArgv(argv []string, args map[string]any) ([]string, error) {
	out := make([]string, 0, len(argv))
	for _, el := range argv {
		if len(el) < 2 || el[0] != '{' || el[len(el)-1] != '}' {
			out = append(out, el)
			continue
		}
		v, ok := args[el[1:len(el)-1]]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case int64:
			out = append(out, strconv.FormatInt(v, 10))
		case float64:
			out = append(out, strconv.FormatFloat(v, 'g', -1, 64))
		case bool:
			out = append(out, strconv.FormatBool(v))
		default:
			return nil, protocol.Errorf(protocol.CodeInternal, "argument %s has unexpected type %T", el, v)
		}
	}
	return out, nil
}

// lookProgram finds prog: an absolute path as is, a bare name in cleanPath.
func lookProgram(prog string) (string, error) {
	if filepath.IsAbs(prog) {
		return exec.LookPath(prog)
	}
	for _, dir := range filepath.SplitList(cleanPath) {
		if p, err := exec.LookPath(filepath.Join(dir, prog)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", prog, cleanPath)
}

// homeDir is the user's home directory, or the root when there is none.
func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return string(filepath.Separator)
}

// cappedBuffer keeps the first MaxCustomOutput bytes written to it and
// counts the rest. Safe for concurrent use.
type cappedBuffer struct {
	mu      sync.Mutex
	buf     []byte
	dropped int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(len(p), MaxCustomOutput-len(b.buf))
	b.buf = append(b.buf, p[:keep]...)
	b.dropped += int64(len(p) - keep)
	return len(p), nil
}

func (b *cappedBuffer) truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped > 0
}

// String returns what was kept, cut back to a whole rune when the cap split
// one, and invalid UTF-8 replaced so that it survives JSON as it is.
func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf
	if b.dropped > 0 {
		for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
			if r, size := utf8.DecodeLastRune(s); r != utf8.RuneError || size > 1 {
				break
			}
			s = s[:len(s)-1]
		}
	}
	return strings.ToValidUTF8(string(s), "\uFFFD")
}
