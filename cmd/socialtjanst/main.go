// Command socialtjanst is social services' gateway of the sekretessbroker; run
// "socialtjanst help" for what it does, in plain language.
package main

import (
	"os"

	"github.com/sekretessbroker/sekretessbroker/clients/desk"
)

func main() { os.Exit(desk.Main("socialtjanst")) }
