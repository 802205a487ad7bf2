package redisstore

// Keys holds every Redis key of one namespace. All share the hash tag
// {ns}, so each script touches a single Redis Cluster slot.
type Keys struct {
	Prefix    string // "llmq:{ns}:"; request hashes are Prefix + "req:" + id
	Low       string
	Medium    string
	Long      string
	Active    string
	Scheduled string
	Dead      string
	Suspended string
	// The ledger, in the order the scripts take it (see ledger in
	// lua/lib.lua): Ledger returns them.
	BudgetLog    string
	BudgetSum    string
	BudgetInSum  string
	BudgetOutSum string
	BudgetDayLog string
	BudgetDaySum string
	Cycle        string
	Cooldown     string
	Stats        string
	LeaseSeq     string
	Workers      string
	WorkerInfo   string
	// WorkerInst maps a worker id to the random instance that holds it, so
	// two live processes never share an id.
	WorkerInst string
	LastLease  string
	// Control holds what an operator set for every worker of the
	// namespace: "paused" and a "cycle" override (see lua/lease.lua).
	Control string
	// Durable is the marker key WaitDurable writes so that its WAIT has a
	// write of its own connection to wait for.
	Durable string
	// Events is the pub/sub channel for terminal transitions. It is not a
	// key (pub/sub is cluster-wide) and carries "id status" messages.
	Events string
	// Cancels is the pub/sub channel on which Cancel tells the workers to
	// stop an active request ("id canceling"); only workers listen to it.
	Cancels string
	// Added is the pub/sub channel on which Add wakes idle workers.
	Added string
}

// NewKeys builds the keys of namespace ns.
func NewKeys(ns string) Keys {
	p := "llmq:{" + ns + "}:"
	return Keys{
		Prefix:       p,
		Low:          p + "q:low",
		Medium:       p + "q:medium",
		Long:         p + "q:long",
		Active:       p + "active",
		Scheduled:    p + "scheduled",
		Dead:         p + "dead",
		Suspended:    p + "suspended",
		BudgetLog:    p + "budget:log",
		BudgetSum:    p + "budget:sum",
		BudgetInSum:  p + "budget:isum",
		BudgetOutSum: p + "budget:osum",
		BudgetDayLog: p + "budget:daylog",
		BudgetDaySum: p + "budget:daysum",
		Cycle:        p + "cycle",
		Cooldown:     p + "cooldown",
		Stats:        p + "stats",
		LeaseSeq:     p + "leaseseq",
		Workers:      p + "workers",
		WorkerInfo:   p + "workers:info",
		WorkerInst:   p + "workers:inst",
		LastLease:    p + "lastlease",
		Control:      p + "control",
		Durable:      p + "durable",
		Events:       p + "events",
		Cancels:      p + "cancels",
		Added:        p + "added",
	}
}

// ForDeployment returns the keys a deployment named name uses: the
// namespace's queues, requests, counters and registry, with a budget
// ledger and a cool-down of its own ("llmq:{ns}:dep:<name>:budget:log",
// ...), so each deployment's worker leases against its own limits from the
// shared queues, and a 429 pauses only that deployment. The name must not
// be empty (the namespace's own ledger has no name).
func (k Keys) ForDeployment(name string) Keys {
	d := k.Prefix + "dep:" + name + ":"
	k.BudgetLog, k.BudgetSum, k.BudgetInSum, k.BudgetOutSum = d+"budget:log", d+"budget:sum", d+"budget:isum", d+"budget:osum"
	k.BudgetDayLog, k.BudgetDaySum = d+"budget:daylog", d+"budget:daysum"
	k.Cooldown = d + "cooldown"
	return k
}

// Ledger returns the budget's keys in the order every script takes them.
func (k Keys) Ledger() []string {
	return []string{k.BudgetLog, k.BudgetSum, k.BudgetInSum, k.BudgetOutSum, k.BudgetDayLog, k.BudgetDaySum}
}

// Request returns the hash key of request id.
func (k Keys) Request(id string) string { return k.Prefix + "req:" + id }

// Queued returns the key of request id's compact form, which it has from
// Add until its first lease (see materialize in lua/lib.lua).
func (k Keys) Queued(id string) string { return k.Prefix + "qr:" + id }
