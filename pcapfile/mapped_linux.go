package pcapfile

import "syscall"

// mmapFlags maps a capture privately and reads it in at once (fewer page
// faults than touching it page by page).
const mmapFlags = syscall.MAP_PRIVATE | syscall.MAP_POPULATE
