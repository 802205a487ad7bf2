package redisstore

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// libParts are lib.lua's definitions, read and split once for every
// script.
var libParts = splitLib(readLua("lib"))

// readLua returns an embedded script's source.
func readLua(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("redisstore: missing lua/" + name + ".lua: " + err.Error()) // build-time invariant
	}
	return string(b)
}

// load builds a script from one body and the parts of the shared prelude,
// lib.lua, that it uses, so helpers such as the ledger's reconcile exist
// once in source.
func load(name string) *redis.Script {
	body := readLua(name)
	return redis.NewScript(prelude(libParts, body) + body)
}

var (
	addScript        = load("add")
	leaseScript      = load("lease")
	completeScript   = load("complete")
	failScript       = load("fail")
	heartbeatScript  = load("heartbeat")
	registerScript   = load("register")
	deregisterScript = load("deregister")
	setMetaScript    = load("setmeta")
	cancelScript     = load("cancel")
	resumeScript     = load("resume")
	snapshotScript   = load("snapshot")
	restampScript    = load("restamp")
)
