package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// printPorts prints args[0] TCP ports on 127.0.0.1 that were free a moment
// ago, separated by spaces. All are held open until all are chosen, so
// they are distinct.
func printPorts(args []string) error {
	n := 1
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 || v > 16 {
			return fmt.Errorf("ports: %q is not a count from 1 to 16", args[0])
		}
		n = v
	}
	ports := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	fmt.Println(strings.Join(ports, " "))
	return nil
}
