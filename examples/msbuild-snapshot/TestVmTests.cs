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
}
