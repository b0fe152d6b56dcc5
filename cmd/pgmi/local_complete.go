package main

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
)

// inflateCheckLimit bounds how much of a gzip stream archiveComplete
// inflates looking for its end. A stream that inflates further counts as
// complete: the pipeline's size and ratio limits decide about it.
const inflateCheckLimit = 1 << 30

// zipEOCDLen is the size of a zip end-of-central-directory record without
// its comment (at most 65535 bytes).
const zipEOCDLen = 22

// archiveComplete reports whether the bundle file at path ends where its
// format says it ends, and if not, what is missing: a .tar.gz or .tgz is a
// gzip stream whose last member has its trailer, a .zip ends with its
// end-of-central-directory record. A file that is damaged in another way
// counts as complete, so that the pipeline reports what is wrong with it.
func archiveComplete(path string) (missing string, complete bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", true // gone or unreadable: the pipeline says which
	}
	defer f.Close()
	if strings.HasSuffix(strings.ToLower(path), ".zip") {
		return zipComplete(f)
	}
	return gzipComplete(f)
}

func gzipComplete(f *os.File) (string, bool) {
	zr, err := gzip.NewReader(f)
	switch {
	case err == io.EOF:
		return "the file is empty", false
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the gzip header is not all there", false
	case err != nil:
		return "", true // not gzip at all
	}
	_, err = io.CopyN(io.Discard, zr, inflateCheckLimit)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the gzip stream has not ended", false
	}
	return "", true
}

func zipComplete(f *os.File) (string, bool) {
	info, err := f.Stat()
	if err != nil {
		return "", true
	}
	tail := make([]byte, min(info.Size(), zipEOCDLen+0xffff))
	if _, err := f.ReadAt(tail, info.Size()-int64(len(tail))); err != nil {
		return "", true
	}
	for i := len(tail) - zipEOCDLen; i >= 0; i-- {
		comment := int(binary.LittleEndian.Uint16(tail[i+20:]))
		if string(tail[i:i+4]) == "PK\x05\x06" && i+zipEOCDLen+comment == len(tail) {
			return "", true
		}
	}
	return "the zip has no end-of-central-directory record yet", false
}
