using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using XenIac.Hosts.Libxl;

namespace XenIac.Hosts.Tests.Libxl;

/// <summary>
/// Stands in for libxl: records the calls in order and, like libxl, writes and reads the savefile at the OS file
/// offset of the descriptor it is given (not through .NET's stream position).
/// </summary>
internal sealed partial class FakeLibxl : ILibxl
{
    public const string StoredJson = """{"c_info":{"type":"pv","name":"web","domid":7},"b_info":{"max_memkb":262144}}""";

    public List<string> Calls { get; } = [];
    public Dictionary<string, uint> Domains { get; } = new() { ["Domain-0"] = 0, ["web"] = 7 };
    public byte[] Image { get; set; } = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
    public Exception? SuspendFailure { get; set; }
    public Action? DuringSuspend { get; set; }
    public Action? MidSuspend { get; set; }
    public byte[]? RestoredImage { get; private set; }
    public string? RestoredJson { get; private set; }
    public bool? RestoredStreamV2 { get; private set; }

    public (string XenVersion, long FreeMemoryKiB) HostFacts() => ("4.17.5", 4L << 20);

    public IReadOnlyList<DomainInfo> ListDomains() =>
        Domains.Select(d => new DomainInfo(d.Key, d.Value, DomainState.Running, 1024, 1)).ToList();

    public uint? FindDomId(string name) => Domains.TryGetValue(name, out var id) ? id : null;

    public string RetrieveConfigJson(uint domid)
    {
        Calls.Add($"retrieve {domid}");
        return StoredJson;
    }

    public string NormalizeConfigJson(string json)
    {
        Calls.Add("normalize");
        return json;
    }

    public void Suspend(uint domid, SafeFileHandle file)
    {
        Calls.Add($"suspend {domid}");
        DuringSuspend?.Invoke();
        // Half the image, then the failure if any: a failed suspend leaves a partial file, as the real one does.
        WriteAll(file, Image.AsSpan(0, Image.Length / 2));
        MidSuspend?.Invoke();
        if (SuspendFailure is not null) throw SuspendFailure;
        WriteAll(file, Image.AsSpan(Image.Length / 2));
    }

    public void Resume(uint domid, bool suspendCancel) => Calls.Add($"resume {domid} cancel={suspendCancel}");

    public void Pause(uint domid) => Calls.Add($"pause {domid}");

    public void Unpause(uint domid) => Calls.Add($"unpause {domid}");

    public void Destroy(uint domid)
    {
        Calls.Add($"destroy {domid}");
        Domains.Remove(Domains.Single(d => d.Value == domid).Key);
    }

    public uint CreateRestore(string json, SafeFileHandle file, bool streamV2)
    {
        Calls.Add("restore");
        RestoredJson = json;
        RestoredStreamV2 = streamV2;
        using var ms = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = read(file, buffer, buffer.Length)) > 0) ms.Write(buffer, 0, n);
        RestoredImage = ms.ToArray();
        Domains["restored"] = 12;
        return 12;
    }

    public uint CreateNew(string json)
    {
        Calls.Add("create");
        Domains["created"] = 13;
        return 13;
    }

    public void Dispose() { }

    private static void WriteAll(SafeFileHandle file, ReadOnlySpan<byte> data)
    {
        var bytes = data.ToArray();
        var done = 0;
        while (done < bytes.Length)
        {
            var n = write(file, bytes[done..], bytes.Length - done);
            if (n <= 0) throw new IOException("write failed");
            done += n;
        }
    }

    [LibraryImport("libc", EntryPoint = "write")]
    private static partial int write(SafeFileHandle fd, byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "read")]
    private static partial int read(SafeFileHandle fd, byte[] buffer, nint count);
}
