package main

import "strconv"

// itoa formats n.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
