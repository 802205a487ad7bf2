// Command hello prints a greeting; gobuild's test builds and runs it.
package main

import "fmt"

func main() { fmt.Println("hello from a built command") }
