import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@testable import PyBackgroundDaemon

@Suite("Argument binding")
struct ArgumentBindingTests {
    static let parameters = [
        TaskParameter("path", .string),
        TaskParameter("count", .int, default: .int(1), minimum: 1),
        TaskParameter("ratio", .double, default: .double(0.5)),
        TaskParameter("verbose", .bool, default: .bool(false)),
    ]

    @Test(
        "positional and key=value words bind to typed values, defaults filling the rest",
        arguments: [
            (["/srv"], ["path": ArgumentValue.string("/srv"), "count": .int(1), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["/srv", "3"], ["path": .string("/srv"), "count": .int(3), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["path=/a", "verbose=yes"], ["path": .string("/a"), "count": .int(1), "ratio": .double(0.5), "verbose": .bool(true)]),
            (["count=2", "/b"], ["path": .string("/b"), "count": .int(2), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["/c", "4", "0.25", "off"], ["path": .string("/c"), "count": .int(4), "ratio": .double(0.25), "verbose": .bool(false)]),
            (["--", "x=y"], ["path": .string("x=y"), "count": .int(1), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["--", "--"], ["path": .string("--"), "count": .int(1), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["count=3", "--", "-n"], ["path": .string("-n"), "count": .int(3), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["http://x/?a=b"], ["path": .string("http://x/?a=b"), "count": .int(1), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["=x"], ["path": .string("=x"), "count": .int(1), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["a b=c"], ["path": .string("a b=c"), "count": .int(1), "ratio": .double(0.5), "verbose": .bool(false)]),
            (["x=y"], nil),
            (["ratio=2"], nil),
        ] as [([String], [String: ArgumentValue]?)])
    func binds(words: [String], expected: [String: ArgumentValue]?) throws {
        if let expected {
            #expect(try BoundArguments.bind(words, to: Self.parameters, task: "t").values == expected)
        } else {
            #expect(throws: TaskFailure.self) { try BoundArguments.bind(words, to: Self.parameters, task: "t") }
        }
    }

    @Test(
        "bad arguments are refused naming the parameter and what it takes",
        arguments: [
            (["/a", "many"], "count must be an integer (int), got \"many\""),
            (["/a", "0"], "count must be at least 1.0, got 0"),
            (["/a", "1", "x"], "ratio must be a number (double), got \"x\""),
            (["/a", "1", "inf"], "ratio must be a number (double), got \"inf\""),
            (["/a", "verbose=maybe"], "verbose must be true or false (bool), got \"maybe\""),
            ([], "missing path (a string)"),
            (["/a", "1", "1", "true", "extra"], "\"extra\" is one argument too many"),
            (["/a", "path=/b"], "path is given twice"),
            (["pth=/a"], "t has no parameter \"pth\" (its parameters: path, count, ratio, verbose); to pass \"pth=/a\" as a value, put it after --"),
            (["/a", "Verbose=1"], "no parameter \"Verbose\""),
            (["/a", "_x-y=1"], "no parameter \"_x-y\""),
        ])
    func refuses(words: [String], fragment: String) {
        #expect { try BoundArguments.bind(words, to: Self.parameters, task: "t") } throws: { error in
            guard let failure = error as? TaskFailure else { return false }
            return failure.code == "bad-argument" && failure.message.contains(fragment)
        }
    }

    @Test("the record keeps what was typed: positional values in order, keywords in order")
    func recordsWhatWasTyped() throws {
        let bound = try BoundArguments.bind(["/a", "verbose=1", "ratio=0.1"], to: Self.parameters, task: "t")
        #expect(bound.positional == [.string("/a")])
        #expect(bound.keywords.map(\.name) == ["verbose", "ratio"])
        #expect(bound.keywords.map(\.value) == [.bool(true), .double(0.1)])
    }
}

@Suite("Argv templates")
struct ArgvTemplateTests {
    static let parameters = [TaskParameter("src", .string), TaskParameter("n", .int, default: .int(5))]

    @Test(
        "placeholders are replaced inside each element, which stays one argument",
        arguments: [
            (["rsync", "{src}", "--n={n}"], ["src=/a b; rm -rf /"], ["rsync", "/a b; rm -rf /", "--n=5"]),
            (["echo", "{{literal}}", "{src}{n}"], ["x"], ["echo", "{literal}", "x5"]),
            (["true"], ["s"], ["true"]),
        ])
    func renders(argv: [String], words: [String], expected: [String]) throws {
        let template = try ArgvTemplate(argv, parameters: Self.parameters)
        #expect(template.render(try BoundArguments.bind(words, to: Self.parameters, task: "t")) == expected)
    }

    @Test(
        "malformed templates are refused",
        arguments: [
            ([], "must name a program"),
            ([""], "must name a program"),
            (["echo", "{missing}"], "{missing}, which is not a declared parameter"),
            (["echo", "{src"], "without its }"),
            (["echo", "src}"], "without its {"),
            (["{src}"], "argv[0] must be a fixed program"),
        ])
    func refuses(argv: [String], fragment: String) {
        #expect { try ArgvTemplate(argv, parameters: Self.parameters) } throws: { error in
            (error as? ArgvTemplate.TemplateError)?.message.contains(fragment) == true
        }
    }
}

@Suite("Task registry")
struct TaskRegistryTests {
    @Test("the built-ins are the seed's tasks plus noop and sleep")
    func builtins() {
        #expect(TaskRegistry.builtins.names == ["noop", "now", "sleep", "timer", "utcnow"])
        #expect(TaskRegistry.builtins["now"]?.parameters.first?.signature == "cost:double=1.0")
        #expect(TaskRegistry.builtins["sleep"]?.parameters.first?.isRequired == true)
    }

    @Test("registering refuses bad and duplicate names and duplicate parameters")
    func refusesBadRegistrations() {
        var registry = TaskRegistry.builtins
        let body: @Sendable (TaskContext, BoundArguments) throws -> JSONValue = { _, _ in .null }
        #expect(throws: TaskFailure.self) { try registry.register(RegisteredTask(name: "now", description: "", run: body)) }
        #expect(throws: TaskFailure.self) { try registry.register(RegisteredTask(name: "-x", description: "", run: body)) }
        #expect(throws: TaskFailure.self) { try registry.register(RegisteredTask(name: "a b", description: "", run: body)) }
        #expect(throws: TaskFailure.self) {
            try registry.register(
                RegisteredTask(
                    name: "dup", description: "",
                    parameters: [TaskParameter("a", .int), TaskParameter("a", .int)], run: body))
        }
        #expect(throws: Never.self) { try registry.register(RegisteredTask(name: "report.daily-2", description: "", run: body)) }
    }
}
