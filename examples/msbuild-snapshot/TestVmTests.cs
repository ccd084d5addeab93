using System.Reflection;
using System.Text;
using Xunit;

namespace SnapshotExample;

/// <summary>
/// Stand-ins for a team's real tests against the VM: by the time these run, XenIacRestoreBeforeTest has restored
/// the VM from the snapshot on the host named in the project file.
/// </summary>
public class TestVmTests
{
    private static string Metadata(string key) =>
        typeof(TestVmTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"no {key} metadata");

    [Fact]
    public void The_snapshot_the_VM_was_restored_from_is_an_xl_savefile()
    {
        var savefile = Metadata("XenIacSavefile");
        var magic = new byte[32];
        using (var stream = File.OpenRead(savefile))
            stream.ReadExactly(magic);
        Assert.StartsWith("Xen saved domain, xl format", Encoding.ASCII.GetString(magic));
    }

    [Fact]
    public void The_snapshot_stores_the_VMs_config()
    {
        var bytes = File.ReadAllBytes(Metadata("XenIacSavefile"));
        Assert.Contains("xeniac-testvm", Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 64 * 1024)));
    }

    /// <summary>
    /// With <c>-p:XenIacTestVmClones=N</c> the tests get N clones instead of the one VM: their names in
    /// XENIAC_TEST_CLONES and the whole pool (names, MACs, disk copies) in the file XENIAC_TEST_CLONES_FILE names.
    /// </summary>
    [Fact]
    public void A_warm_pool_of_clones_is_named_to_the_tests_with_distinct_names_and_macs()
    {
        var asked = int.TryParse(Metadata("XenIacTestVmClones"), out var n) ? n : 0;
        var names = Environment.GetEnvironmentVariable("XENIAC_TEST_CLONES");
        if (asked == 0)
        {
            Assert.True(string.IsNullOrEmpty(names), $"no pool was asked for, yet XENIAC_TEST_CLONES is '{names}'");
            return;
        }
        Assert.False(string.IsNullOrEmpty(names), "XENIAC_TEST_CLONES is not set");
        var list = names!.Split(',');
        Assert.Equal(asked, list.Distinct().Count());

        using var pool = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Environment.GetEnvironmentVariable("XENIAC_TEST_CLONES_FILE")!));
        var clones = pool.RootElement.EnumerateArray().ToList();
        Assert.Equal(list, clones.Select(c => c.GetProperty("name").GetString()));
        var macs = clones.SelectMany(c => c.GetProperty("macs").EnumerateArray().Select(m => m.GetString())).ToList();
        Assert.Equal(macs.Count, macs.Distinct().Count());
    }
}
