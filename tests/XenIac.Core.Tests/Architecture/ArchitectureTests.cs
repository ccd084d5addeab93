using System.Text.RegularExpressions;
using System.Xml.Linq;
using XenIac.Tests;

namespace XenIac.Core.Tests.Architecture;

/// <summary>
/// Keeps ARCHITECTURE.md true: every arrow between rooms (projects) and between the floors of a room (namespaces)
/// points down. Reads the csproj files and the <c>using</c> lines and fully qualified names of every source file,
/// so it holds for code that is not loaded into this test's process.
/// </summary>
public sealed partial class ArchitectureTests
{
    /// <summary>The rooms and the rooms each may use (ARCHITECTURE.md, "Rooms").</summary>
    internal static readonly Dictionary<string, string[]> Rooms = new()
    {
        ["XenIac.Core"] = [],
        ["XenIac.Store"] = ["XenIac.Core"],
        ["XenIac.Hosts"] = ["XenIac.Core"],
        ["XenIac.Reconciler"] = ["XenIac.Store", "XenIac.Hosts", "XenIac.Core"],
        ["XenIac.Cli"] = ["XenIac.Reconciler", "XenIac.Store", "XenIac.Hosts", "XenIac.Core"],
        ["XenIac.MSBuild"] = ["XenIac.Reconciler", "XenIac.Store", "XenIac.Hosts", "XenIac.Core"],
    };

    /// <summary>
    /// Floors inside a room, bottom first: a namespace may use its own floor and those below. The room's root
    /// namespace (shared value types such as the format exception) is the ground floor.
    /// </summary>
    internal static readonly Dictionary<string, string[]> Floors = new()
    {
        ["XenIac.Core"] = ["XenIac.Core", "XenIac.Core.IO", "XenIac.Core.Streams", "XenIac.Core.SaveFiles", "XenIac.Core.Config"],
    };

    /// <summary>Namespaces of one room that must not see each other (two implementations of one interface).</summary>
    internal static readonly (string, string)[] Strangers =
    [
        ("XenIac.Hosts.Embedded", "XenIac.Hosts.Libxl"),
        ("XenIac.Hosts.Libxl", "XenIac.Hosts.Embedded"),
    ];

    private static string Src => Path.Combine(SharedFixtures.RepoRoot, "src");

    [Fact]
    public void Project_references_point_down()
    {
        var found = 0;
        foreach (var (room, allowed) in Rooms)
        {
            var csproj = Path.Combine(Src, room, room + ".csproj");
            Assert.True(File.Exists(csproj), $"{csproj} is missing: a room was renamed without updating this test");
            foreach (var reference in XDocument.Load(csproj).Descendants("ProjectReference"))
            {
                found++;
                var target = Path.GetFileNameWithoutExtension(reference.Attribute("Include")!.Value.Replace('\\', '/'));
                Assert.True(allowed.Contains(target), $"{room} references {target}, which is not below it (allowed: {string.Join(", ", allowed)})");
            }
        }
        Assert.True(found >= 9, $"only {found} project references were read: the reader is broken");
        // Every project under src/ is a known room, so a new one cannot slip in unchecked.
        foreach (var dir in Directory.GetDirectories(Src))
            Assert.True(Rooms.ContainsKey(Path.GetFileName(dir)), $"src/{Path.GetFileName(dir)} is not in the room list");
    }

    [Fact]
    public void Namespace_uses_point_down()
    {
        var violations = Check(Src);
        Assert.True(violations.Count == 0, "upward references:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void The_check_finds_an_upward_using_and_a_qualified_name()
    {
        var root = Directory.CreateTempSubdirectory("xeniac-arch-").FullName;
        try
        {
            var streams = Directory.CreateDirectory(Path.Combine(root, "XenIac.Core", "Streams")).FullName;
            File.WriteAllText(Path.Combine(streams, "Up.cs"), "using XenIac.Core.SaveFiles;\nnamespace XenIac.Core.Streams;\nclass Up { }\n");
            File.WriteAllText(Path.Combine(streams, "Qualified.cs"),
                "namespace XenIac.Core.Streams;\nclass Q { object o = XenIac.Core.Config.XlConfig.Parse(\"\"); }\n");
            File.WriteAllText(Path.Combine(streams, "Fine.cs"), "using XenIac.Core.IO;\nnamespace XenIac.Core.Streams;\n// XenIac.Core.Config in a comment is no arrow\n");
            var core = Path.Combine(root, "XenIac.Core");
            File.WriteAllText(Path.Combine(core, "Room.cs"), "using XenIac.Hosts;\nnamespace XenIac.Core;\n");
            var hosts = Directory.CreateDirectory(Path.Combine(root, "XenIac.Hosts", "Embedded")).FullName;
            File.WriteAllText(Path.Combine(hosts, "E.cs"), "using XenIac.Hosts.Libxl;\nnamespace XenIac.Hosts.Embedded;\n");

            var violations = Check(root);

            Assert.Equal(4, violations.Count);
            Assert.Contains(violations, v => v.Contains("Up.cs") && v.Contains("XenIac.Core.SaveFiles"));
            Assert.Contains(violations, v => v.Contains("Qualified.cs") && v.Contains("XenIac.Core.Config"));
            Assert.Contains(violations, v => v.Contains("Room.cs") && v.Contains("XenIac.Hosts"));
            Assert.Contains(violations, v => v.Contains("E.cs") && v.Contains("XenIac.Hosts.Libxl"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Every upward or sideways reference under <paramref name="src"/>, as "file: namespace uses other".</summary>
    internal static List<string> Check(string src)
    {
        var violations = new List<string>();
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(src, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj")) continue;
            var room = relative.Split(Path.DirectorySeparatorChar)[0];
            if (!Rooms.TryGetValue(room, out var allowedRooms)) continue;
            var code = StripComments(File.ReadAllText(file));
            var own = NamespaceLine().Match(code) is { Success: true } m ? m.Groups[1].Value : room;
            foreach (var used in UsedNamespaces(code))
            {
                var usedRoom = Rooms.Keys.Where(r => used == r || used.StartsWith(r + ".", StringComparison.Ordinal))
                    .OrderByDescending(r => r.Length).FirstOrDefault();
                if (usedRoom is null) continue;
                if (usedRoom != room)
                {
                    if (!allowedRooms.Contains(usedRoom)) violations.Add($"{relative}: {own} uses {used} (room {usedRoom} is not below {room})");
                    continue;
                }
                if (Floors.TryGetValue(room, out var floors) && FloorOf(floors, own) is { } ownFloor &&
                    FloorOf(floors, used) is { } usedFloor && usedFloor > ownFloor)
                    violations.Add($"{relative}: {own} uses {used} (a higher floor)");
                if (Strangers.Any(s => IsIn(own, s.Item1) && IsIn(used, s.Item2)))
                    violations.Add($"{relative}: {own} uses {used} (two hosts do not see each other)");
            }
        }
        return violations;
    }

    private static bool IsIn(string ns, string container) => ns == container || ns.StartsWith(container + ".", StringComparison.Ordinal);

    private static int? FloorOf(string[] floors, string ns)
    {
        for (var i = floors.Length - 1; i >= 0; i--)
            if (IsIn(ns, floors[i])) return i;
        return null;
    }

    /// <summary>Namespaces named in using lines and in fully qualified names (XenIac.X.Y.Type).</summary>
    private static IEnumerable<string> UsedNamespaces(string code)
    {
        foreach (Match u in UsingLine().Matches(code)) yield return u.Groups[1].Value;
        foreach (Match q in QualifiedName().Matches(code))
        {
            // XenIac.Core.Config.XlConfig: the namespace is every part before the first capitalised type-like part
            // that is not itself a known namespace, which for this code base is "all parts but the last".
            var parts = q.Value.Split('.');
            yield return string.Join('.', parts[..^1]);
        }
    }

    private static string StripComments(string code) => Comments().Replace(code, "");

    [GeneratedRegex(@"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();

    [GeneratedRegex(@"^\s*(?:global\s+)?using\s+(?:static\s+)?(?:\w+\s*=\s*)?(XenIac(?:\.\w+)*)\s*;", RegexOptions.Multiline)]
    private static partial Regex UsingLine();

    [GeneratedRegex(@"(?<![\w.])XenIac(?:\.\w+){2,}")]
    private static partial Regex QualifiedName();

    // Line comments (doc comments included: a cref is documentation, not an arrow) and block comments; strings are
    // left alone, which is safe because a string naming a namespace would be reported, never hidden.
    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comments();
}
