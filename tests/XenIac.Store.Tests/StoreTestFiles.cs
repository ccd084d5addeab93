using System.Security.Cryptography;
using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;

namespace XenIac.Store.Tests;

/// <summary>A per-test folder with an embedded host that makes real-format savefiles.</summary>
public sealed class StoreTestFiles : IAsyncDisposable
{
    public StoreTestFiles()
    {
        Root = Directory.CreateTempSubdirectory("xeniac-store-test-").FullName;
        Host = EmbeddedHost.Open(Path.Combine(Root, "host"));
    }

    public string Root { get; }

    public EmbeddedHost Host { get; }

    public string StorePath => Path.Combine(Root, "store");

    public string PathOf(string name) => Path.Combine(Root, name);

    public async Task CreateAsync(string name, string type = "pv", int memoryMiB = 8) =>
        await Host.CreateAsync(ConfigText.FromText(type == "pv"
            ? $"name = \"{name}\"\ntype = \"pv\"\nmemory = {memoryMiB}\nvcpus = 2\nkernel = \"/boot/vmlinuz\"\n"
            : $"name = \"{name}\"\ntype = \"hvm\"\nmemory = {memoryMiB}\nvcpus = 1\n"));

    /// <summary>Saves <paramref name="name"/> (left running) to a file and returns its path.</summary>
    public async Task<string> SaveAsync(string name, string file)
    {
        var path = PathOf(file);
        await Host.SaveAsync(name, path, SaveOptions.Default with { Mode = SaveMode.Checkpoint });
        return path;
    }

    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
