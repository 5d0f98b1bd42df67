package declog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// openAppend opens (creating) the log file for appending and returns its
// current size.
func openAppend(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("opening decision log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("opening decision log: %w", err)
	}
	return f, st.Size(), nil
}

// BackupName is the name of the n-th rotated file of the log at path
// (1 is the newest).
func BackupName(path string, n int) string {
	return path + "." + strconv.Itoa(n)
}

// rotate moves the log file to its first backup and reopens the log path.
// If a step fails, writing goes on to the current file (so no record is
// lost) and the next record retries what is left. l.mu is held.
func (l *Log) rotate() {
	if !l.detached {
		if err := shiftBackups(l.path, l.maxBackups); err != nil {
			l.rotateFailed(err)
			return
		}
		l.detached = true
	}
	f, size, err := openAppend(l.path)
	if err != nil {
		l.rotateFailed(err)
		return
	}
	old := l.file
	l.w, l.file, l.size, l.detached = f, f, size, false
	l.rotations.Inc()
	if err := old.Close(); err != nil {
		l.rotateFailed(fmt.Errorf("closing rotated decision log: %w", err))
		return
	}
	if l.rotateFailing {
		l.rotateFailing = false
		l.logger.Info("decision log: rotating again", "path", l.path)
	}
}

// rotateFailed counts a failed rotation and logs the first of a series.
// l.mu is held.
func (l *Log) rotateFailed(err error) {
	l.errors.Inc()
	if !l.rotateFailing {
		l.rotateFailing = true
		l.logger.Error("decision log: rotation failed; writing on to the current file", "path", l.path, "err", err)
	}
}

// shiftBackups renames path.i to path.i+1 for i from keep-1 down to 1
// (replacing, hence dropping, path.keep), then path to path.1. Backups
// beyond keep, left by a larger earlier setting, are removed. A missing
// file is skipped: path may have been moved away by someone else.
func shiftBackups(path string, keep int) error {
	for i := keep + 1; os.Remove(BackupName(path, i)) == nil; i++ {
	}
	for i := keep - 1; i >= 1; i-- {
		if err := os.Rename(BackupName(path, i), BackupName(path, i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotating decision log: %w", err)
		}
	}
	if err := os.Rename(path, BackupName(path, 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotating decision log: %w", err)
	}
	return nil
}
