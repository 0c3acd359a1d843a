package journal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/flock"
)

// Restart keeps what earlier runs paid for: the results and errors files
// are moved aside to numbered names beside them (out.jsonl to out.1.jsonl,
// out.errors.jsonl to out.errors.1.jsonl, the first number free for both)
// and the run starts on new, empty files.
//
// A file is moved aside by a hard link to its numbered name, which fails
// rather than overwrite one, then a new file, locked before anyone can see
// it, is renamed over the old name. The old file stays locked until the
// rename is done, and Open checks that the name it locked is still the
// file's, so a run that opened the old file meanwhile fails with ErrInUse
// instead of appending to the one moved aside. A kill at any point leaves
// the earlier results under one name or both, never lost.

// moveAside is Restart: it moves the results and errors files aside when
// they are not empty and opens new ones in their place.
func (j *Journal) moveAside(resultsSize, errorsSize int64) error {
	if resultsSize == 0 && errorsSize == 0 {
		return nil
	}
	for n := 1; ; n++ {
		r, e := numbered(j.resultsPath, n), numbered(j.errorsPath, n)
		if exists(r) || exists(e) {
			continue
		}
		if resultsSize > 0 {
			if err := claim(j.resultsFile, j.resultsPath, resultsSize, r); errors.Is(err, fs.ErrExist) {
				continue // taken meanwhile
			} else if err != nil {
				return err
			}
			j.asideResults = r
		}
		if errorsSize > 0 {
			if err := claim(j.errorsFile, j.errorsPath, errorsSize, e); errors.Is(err, fs.ErrExist) {
				if j.asideResults != "" {
					os.Remove(j.asideResults) // our own link: the results are still at their name
					j.asideResults = ""
				}
				continue
			} else if err != nil {
				return err
			}
			j.asideErrors = e
		}
		break
	}
	var err error
	if j.asideResults != "" {
		if j.resultsFile, err = replace(j.resultsFile, j.resultsPath, os.O_RDWR|os.O_APPEND); err != nil {
			return err
		}
	}
	if j.asideErrors != "" {
		if j.errorsFile, err = replace(j.errorsFile, j.errorsPath, os.O_WRONLY|os.O_APPEND); err != nil {
			return err
		}
	}
	syncDir(filepath.Dir(j.resultsPath))
	if d := filepath.Dir(j.errorsPath); d != filepath.Dir(j.resultsPath) {
		syncDir(d)
	}
	return nil
}

// numbered is path with ".n" before its extension: out.jsonl gives
// out.1.jsonl, out gives out.1.
func numbered(path string, n int) string {
	dir, base := filepath.Split(path)
	if i := strings.LastIndex(base, "."); i > 0 {
		return dir + base[:i] + "." + strconv.Itoa(n) + base[i:]
	}
	return path + "." + strconv.Itoa(n)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// claim gives f's content (size bytes) the name aside, which must not
// exist (fs.ErrExist if it does): a hard link where the file system has
// them, else a copy.
func claim(f *os.File, path string, size int64, aside string) error {
	err := os.Link(path, aside)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	dst, err := os.OpenFile(aside, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, io.NewSectionReader(f, 0, size))
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(aside)
		return fmt.Errorf("journal: moving %s aside to %s: %w", path, aside, err)
	}
	return nil
}

// replace puts a new empty file, locked, at path in place of old, and
// closes old (releasing its lock) only then.
func replace(old *os.File, path string, flag int) (*os.File, error) {
	tmp := path + ".new-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f, err := os.OpenFile(tmp, flag|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return old, fmt.Errorf("journal: %w", err)
	}
	if err := flock.Lock(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return old, fmt.Errorf("journal: %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return old, fmt.Errorf("journal: %w", err)
	}
	old.Close()
	return f, nil
}

// stillNamed reports whether path still names f: a run that restarted
// may have put a new file there while f was being opened and locked.
func stillNamed(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}

// syncDir makes renames and links in dir durable, where the system allows
// fsync on a directory; a failure only weakens that, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
