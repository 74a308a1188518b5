//go:build !linux

package main

import "syscall"

func serveSysProcAttr() *syscall.SysProcAttr { return nil }
