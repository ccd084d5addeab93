using System.Text.Json.Nodes;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Remote;

/// <summary>
/// How the host model reads as JSON on the wire (by hand with JsonNode: no reflection, so the AOT-compiled CLI
/// serves and connects). Enums travel as their names, so reordering a C# enum never changes the protocol.
/// </summary>
internal static class Wire
{
    // Message types ("t").
    public const string Hello = "hello", Call = "call", Progress = "progress", Result = "result", Error = "error",
        Cancel = "cancel", Saved = "saved", Sent = "sent", Commit = "commit", Abort = "abort", End = "end";

    public static JsonObject Message(string type) => new() { ["t"] = type };

    public static string TypeOf(JsonObject message) => Str(message, "t");

    public static string Str(JsonObject o, string key) =>
        o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new RemoteProtocolException($"message lacks the text field '{key}'");

    public static string? OptStr(JsonObject o, string key) =>
        o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public static long Long(JsonObject o, string key) =>
        o[key] is JsonValue v && v.TryGetValue<long>(out var n) ? n : throw new RemoteProtocolException($"message lacks the number field '{key}'");

    public static bool Bool(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    public static T Enum<T>(JsonObject o, string key) where T : struct, System.Enum =>
        System.Enum.TryParse<T>(Str(o, key), ignoreCase: false, out var value) && System.Enum.IsDefined(value)
            ? value : throw new RemoteProtocolException($"field '{key}' is not a known {typeof(T).Name}");

    public static JsonObject Obj(JsonObject o, string key) =>
        o[key] as JsonObject ?? throw new RemoteProtocolException($"message lacks the object field '{key}'");

    public static JsonArray Arr(JsonObject o, string key) =>
        o[key] as JsonArray ?? throw new RemoteProtocolException($"message lacks the list field '{key}'");

    public static JsonObject ToJson(HostInfo info) => new()
    {
        ["xenVersion"] = info.XenVersion, ["cpuVendor"] = info.CpuVendor, ["freeMemoryKiB"] = info.FreeMemoryKiB,
    };

    public static HostInfo HostInfo(JsonObject o) => new(Str(o, "xenVersion"), Str(o, "cpuVendor"), Long(o, "freeMemoryKiB"));

    public static JsonObject ToJson(DomainInfo d) => new()
    {
        ["name"] = d.Name, ["domId"] = d.DomId, ["state"] = d.State.ToString(), ["memoryKiB"] = d.MemoryKiB, ["vcpus"] = d.VCpus,
    };

    public static DomainInfo Domain(JsonObject o)
    {
        var domId = Long(o, "domId");
        var vcpus = Long(o, "vcpus");
        if (domId is < 0 or > uint.MaxValue || vcpus is < 0 or > int.MaxValue) throw new RemoteProtocolException("a domain's id or vcpu count is out of range");
        return new DomainInfo(Str(o, "name"), (uint)domId, Enum<DomainState>(o, "state"), Long(o, "memoryKiB"), (int)vcpus);
    }

    public static JsonObject ToJson(ConfigText c) => new()
    {
        ["text"] = c.Text, ["language"] = c.Language.ToString(), ["source"] = c.Source, ["isSavefile"] = c.IsSavefile,
    };

    public static ConfigText Config(JsonObject o) =>
        new(Str(o, "text"), Enum<SaveFileConfigFormat>(o, "language")) { Source = OptStr(o, "source"), IsSavefile = Bool(o, "isSavefile") };

    public static ConfigText? OptConfig(JsonObject o, string key) => o[key] is JsonObject c ? Config(c) : null;

    public static JsonObject ToJson(CloneFixups f)
    {
        var o = new JsonObject
        {
            ["name"] = f.Name, ["newMacs"] = f.NewMacs, ["diskPattern"] = f.DiskPattern, ["newVmGenId"] = f.NewVmGenId,
        };
        if (f.DiskTargets is { } targets)
        {
            var t = new JsonObject();
            foreach (var (vdev, target) in targets) t[vdev] = target;
            o["diskTargets"] = t;
        }
        return o;
    }

    public static CloneFixups Fixups(JsonObject o)
    {
        Dictionary<string, string>? targets = null;
        if (o["diskTargets"] is JsonObject t)
        {
            targets = [];
            foreach (var (vdev, node) in t)
                targets[vdev] = node is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new RemoteProtocolException("a disk target is not text");
        }
        return new CloneFixups
        {
            Name = Str(o, "name"), NewMacs = Bool(o, "newMacs"), DiskPattern = OptStr(o, "diskPattern"),
            NewVmGenId = Bool(o, "newVmGenId"), DiskTargets = targets,
        };
    }

    public static JsonObject ToJson(RestoreResult r)
    {
        var o = new JsonObject { ["domain"] = ToJson(r.Domain), ["configOverridden"] = r.ConfigOverridden };
        if (r.Cloned is { } c)
        {
            o["cloned"] = new JsonObject
            {
                ["config"] = ToJson(c.Config), ["name"] = c.Name, ["macs"] = new JsonArray([.. c.Macs.Select(m => (JsonNode?)m)]),
                ["disks"] = new JsonArray([.. c.Disks.Select(d => (JsonNode?)new JsonObject { ["vdev"] = d.Vdev, ["from"] = d.From, ["to"] = d.To })]),
                ["newVmGenId"] = c.NewVmGenId,
            };
        }
        o["findings"] = new JsonArray([.. r.Findings.Select(f => (JsonNode?)new JsonObject
        {
            ["severity"] = f.Severity.ToString(), ["setting"] = f.Setting, ["old"] = f.Old, ["new"] = f.New, ["reason"] = f.Reason,
        })]);
        return o;
    }

    public static RestoreResult RestoreResult(JsonObject o)
    {
        ClonedConfig? cloned = null;
        if (o["cloned"] is JsonObject c)
        {
            cloned = new ClonedConfig(Config(Obj(c, "config")), Str(c, "name"),
                [.. Arr(c, "macs").Select(m => m is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new RemoteProtocolException("a MAC is not text"))],
                [.. Arr(c, "disks").Select(d => d is JsonObject x ? new DiskRedirect(Str(x, "vdev"), Str(x, "from"), Str(x, "to")) : throw new RemoteProtocolException("a disk redirect is not an object"))],
                Bool(c, "newVmGenId"));
        }
        var findings = Arr(o, "findings").Select(f => f is JsonObject x
            ? new CompatibilityFinding(Enum<FindingSeverity>(x, "severity"), Str(x, "setting"), OptStr(x, "old"), OptStr(x, "new"), Str(x, "reason"))
            : throw new RemoteProtocolException("a finding is not an object")).ToList();
        return new RestoreResult(Domain(Obj(o, "domain")), Bool(o, "configOverridden")) { Cloned = cloned, Findings = findings };
    }

    public static JsonObject ErrorMessage(XenHostError kind, string message)
    {
        var o = Message(Error);
        o["kind"] = kind.ToString();
        o["message"] = message;
        return o;
    }

    /// <summary>The typed error a server's error message stands for; an unknown kind from a newer server is OperationFailed.</summary>
    public static XenHostException ToException(JsonObject o)
    {
        var kind = System.Enum.TryParse<XenHostError>(OptStr(o, "kind"), out var k) && System.Enum.IsDefined(k) ? k : XenHostError.OperationFailed;
        return new XenHostException(kind, OptStr(o, "message") ?? "the remote host failed without saying why");
    }
}
