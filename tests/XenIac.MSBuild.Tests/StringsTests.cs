using System.Collections;
using System.Globalization;
using System.Resources;
using System.Text.RegularExpressions;
using XenIac.Tests;

namespace XenIac.MSBuild.Tests;

public sealed class StringsTests
{
    private static Dictionary<string, string> Messages()
    {
        var manager = new ResourceManager("XenIac.MSBuild.Strings", typeof(XenIacTask).Assembly);
        var set = manager.GetResourceSet(CultureInfo.InvariantCulture, createIfNotExists: true, tryParents: true)!;
        return set.Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string)e.Value!);
    }

    [Fact]
    public void Every_message_has_its_own_XIAC_code()
    {
        var codes = Messages().Values.Select(v => Regex.Match(v, "^(XIAC[0-9]{4}): ").Groups[1].Value).ToList();

        Assert.DoesNotContain("", codes);
        Assert.Equal(codes.Count, codes.Distinct().Count());
    }

    [Fact]
    public void Every_name_the_code_uses_exists_in_the_resource_file()
    {
        var names = typeof(XenIacTask).Assembly.GetType("XenIac.MSBuild.Strings")!
            .GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!);

        Assert.Equal(Messages().Keys.Order(), names.Order());
    }

    [Fact]
    public void The_README_error_table_lists_every_code()
    {
        var readme = File.ReadAllText(Path.Combine(SharedFixtures.RepoRoot, "README.md"));
        foreach (var code in Messages().Values.Select(v => v[..8]))
            Assert.Matches($@"\|\s*{code}\s*\|", readme);
    }
}
