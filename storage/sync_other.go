//go:build !linux && unix

package storage

import "syscall"

func syscallSync() { syscall.Sync() }
