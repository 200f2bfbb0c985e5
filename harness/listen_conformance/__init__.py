"""listen-conformance: an executable specification of Node.js's server.listen().

The driver, one job per module; data flows one way, from the table to the
verdict:

    paths         where the table, the specification, the adapter and the C parts are
    table         loads conformance/scenarios/*.toml and lints every scenario
    crossing      `[[matrix]]` tables: one behaviour across forms, written once
    levels        levels per step: what a `must` step may assert, events at two levels
    lines         the Node release lines (20, 22, 24) and version ranges
    calls         a scenario's Call line, made from its steps
    values        the `@` tokens (one declaration each) and values as JavaScript
    steps         every step kind (one declaration each): keys, run, words, doc line
    cabi          a JavaScript call as the C shim ABI's listen form
    events        the one written form of an event
    capabilities  what the machine can do (IPv6, abstract sockets, a non-root user)
    runner        runner processes (harness/PROTOCOL.md) and what --impl names
    containment   how a runner is started: its namespace, user, limits; nothing left
    elfinfo       what a file given as --impl is, read from the file itself
    observe       the kernel's side: sock_diag, socket options, loopback connections
    executor      one scenario: steps in, a Verdict out
    verdicts      the verdicts, the Result of a scenario, counts, exit statuses
    causes        failures grouped by cause, largest first
    expectations  expectation files (known results, for CI gating)
    session       one pytest run: collection, Results, the summary
    lanes         scenarios side by side in forked copies of the driver, reported in order
    plugin        the pytest plugin's options (cheap to import)
    report        the JSON report and the JUnit XML
    launch        the one way to start the suite in a subprocess
    progress      `run`'s progress lines (the pytest side)
    cli           the command-line front: list, show, run, report, matrix, spec
    matrix        scenario x implementation matrices
    rules         each clause's rule in plain words, the summary tables (rules.toml)
    topics        the topic index of SPEC.md (topics.toml)
    nodemap       Node's own listen() tests, mapped to scenarios (node-tests.toml)
    specdoc       docs/SPEC.md and FORMAT.md's generated tables
"""
__version__ = "0.1.0"
