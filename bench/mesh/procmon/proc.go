package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// tree returns pid and its descendants (threads' children included), pid first. A process
// that has exited is left out.
func tree(pid int) []int {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nil
	}
	pids := []int{pid}
	for i := 0; i < len(pids); i++ {
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pids[i]))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, s := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(s); err == nil {
					pids = append(pids, c)
				}
			}
		}
	}
	return pids
}

// cpuSeconds sums utime+stime of pids (every thread of each).
func cpuSeconds(pids []int) float64 {
	var sum float64
	for _, pid := range pids {
		p, err := procfs.NewProc(pid)
		if err != nil {
			continue
		}
		if st, err := p.Stat(); err == nil {
			sum += st.CPUTime()
		}
	}
	return sum
}

// memory is a resident set, in KiB: VmRSS split into anonymous memory (heap, stacks) and
// file pages (the mapped executable and libraries), VmHWM and Pss.
type memory struct{ rss, anon, file, hwm, pss int64 }

func (m *memory) add(o memory) {
	m.rss += o.rss
	m.anon += o.anon
	m.file += o.file
	m.hwm += o.hwm
	m.pss += o.pss
}

func readMemory(pid int) memory {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return memory{}
	}
	var m memory
	if st, err := p.NewStatus(); err == nil {
		m.rss, m.hwm = int64(st.VmRSS>>10), int64(st.VmHWM>>10)
		m.anon, m.file = int64(st.RssAnon>>10), int64(st.RssFile>>10)
	}
	if r, err := p.ProcSMapsRollup(); err == nil {
		m.pss = int64(r.Pss >> 10)
	}
	return m
}
