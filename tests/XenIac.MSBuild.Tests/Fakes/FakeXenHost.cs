using XenIac.Core.Config;
using System.Text;
using System.Text.Json;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;

namespace XenIac.MSBuild.Tests.Fakes;

/// <summary>
/// An in-memory host that keeps IXenHost's promises the tasks rely on: real savefiles written temp+rename, a
/// cancelled save leaves nothing behind, names are unique. Records every call so tests can check order.
/// </summary>
public sealed class FakeXenHost : IXenHost
{
    private uint _nextDomId = 1;

    public string Spec => "fake:test";

    public Dictionary<string, (DomainInfo Info, ConfigText Config)> Domains { get; } = new(StringComparer.Ordinal);

    public List<string> Calls { get; } = [];

    public SaveOptions? LastSaveOptions { get; private set; }
    public RestoreOptions? LastRestoreOptions { get; private set; }

    /// <summary>Runs inside SaveAsync after the temp file is started, e.g. to wait for cancellation.</summary>
    public Func<CancellationToken, Task>? DuringSave { get; set; }

    /// <summary>Runs right after a destroy: another process acting on the host in between.</summary>
    public Action<string>? AfterDestroy { get; set; }

    public int Disposed { get; private set; }

    public DomainInfo Add(string name, string? configText = null)
    {
        var config = ConfigText.FromText(configText ?? $"name = \"{name}\"\nmemory = 16\n");
        var info = new DomainInfo(name, _nextDomId++, DomainState.Running, 16 * 1024, 1);
        Domains[name] = (info, config);
        return info;
    }

    public Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(new HostInfo("4.17.0", "GenuineIntel", 16L << 20));

    public Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<DomainInfo>>(Domains.Values.Select(d => d.Info).ToList());

    public async Task<DomainInfo?> FindDomainAsync(string name, CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        return Domains.TryGetValue(name, out var d) ? d.Info : null;
    }

    public async Task<SaveResult> SaveAsync(string name, string savefilePath, SaveOptions options, CancellationToken cancellationToken = default)
    {
        Calls.Add("save " + name);
        LastSaveOptions = options;
        if (!Domains.TryGetValue(name, out var domain))
            throw new XenHostException(XenHostError.DomainNotFound, $"no domain named '{name}'");
        var config = options.AlternativeConfig ?? domain.Config;
        var header = SaveFileHeader.Create(config.Text, config.Language);
        await AtomicFile.WriteAsync(savefilePath, async (stream, ct) =>
        {
            SaveFileWriter.WriteHeader(stream, header);
            if (DuringSave is not null) await DuringSave(ct);
            // A real (tiny) image stream whose pages carry the domain's name: restores that replace a running domain
            // read the image through first, and saves of different domains must differ.
            var pages = new MemoryStream();
            var stamp = Encoding.ASCII.GetBytes("fake image of " + name);
            XenIac.Core.Streams.ImageStreamWriter.Write(pages, new XenIac.Core.Streams.DomainImageDescription
            {
                GuestType = XenIac.Core.Streams.GuestType.HVM,
                PageCount = 2,
                FillPage = (pfn, page) => stamp.CopyTo(page),
            });
            var image = pages.ToArray();
            await stream.WriteAsync(image, ct);
            options.Progress?.Report(image.Length);
        }, cancellationToken);
        if (options.Mode == SaveMode.Plain && !options.LeavePaused) Domains.Remove(name);
        return new SaveResult(name, savefilePath, new FileInfo(savefilePath).Length, header);
    }

    public async Task<RestoreResult> RestoreAsync(string savefilePath, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        Calls.Add("restore " + savefilePath);
        LastRestoreOptions = options;
        ConfigText config;
        using (var reader = SaveFileReader.Open(savefilePath))
        {
            var effective = reader.ResolveConfig(options.OverrideConfig?.Text, options.OverrideConfig?.Language ?? SaveFileConfigFormat.XlCfg);
            config = new ConfigText(effective.Text!, effective.Format);
        }
        var name = NameOf(config);
        if (Domains.ContainsKey(name))
            throw new XenHostException(XenHostError.DomainExists, $"a domain named '{name}' already exists");
        await Task.Yield();
        var info = new DomainInfo(name, _nextDomId++, options.Paused ? DomainState.Paused : DomainState.Running, 16 * 1024, 1);
        Domains[name] = (info, config);
        return new RestoreResult(info, options.OverrideConfig is not null);
    }

    public async Task<RestoreResult> RestoreAsync(Stream savefile, string source, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        Calls.Add("restore-stream " + source);
        LastRestoreOptions = options;
        ConfigText config;
        using (var reader = SaveFileReader.Open(savefile, leaveOpen: true))
        {
            var effective = reader.ResolveConfig(options.OverrideConfig?.Text, options.OverrideConfig?.Language ?? SaveFileConfigFormat.XlCfg);
            config = new ConfigText(effective.Text!, effective.Format);
            await reader.Image.CopyToAsync(Stream.Null, cancellationToken);
        }
        var name = NameOf(config);
        if (Domains.ContainsKey(name))
            throw new XenHostException(XenHostError.DomainExists, $"a domain named '{name}' already exists");
        var info = new DomainInfo(name, _nextDomId++, options.Paused ? DomainState.Paused : DomainState.Running, 16 * 1024, 1);
        Domains[name] = (info, config);
        return new RestoreResult(info, options.OverrideConfig is not null);
    }

    public Task<DomainInfo> CreateAsync(ConfigText config, bool paused = false, CancellationToken cancellationToken = default)
    {
        var name = NameOf(config);
        Calls.Add("create " + name);
        if (Domains.ContainsKey(name))
            throw new XenHostException(XenHostError.DomainExists, $"a domain named '{name}' already exists");
        var info = new DomainInfo(name, _nextDomId++, paused ? DomainState.Paused : DomainState.Running, 16 * 1024, 1);
        Domains[name] = (info, config);
        return Task.FromResult(info);
    }

    public Task DestroyAsync(string name, CancellationToken cancellationToken = default)
    {
        Calls.Add("destroy " + name);
        if (!Domains.Remove(name)) throw new XenHostException(XenHostError.DomainNotFound, $"no domain named '{name}'");
        AfterDestroy?.Invoke(name);
        return Task.CompletedTask;
    }

    public Task PauseAsync(string name, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    public Task UnpauseAsync(string name, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<ConfigText> GetConfigAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(Domains[name].Config);

    public ValueTask DisposeAsync()
    {
        Disposed++;
        return ValueTask.CompletedTask;
    }

    // Independent of the code under test (ConfigNames) so the fake cannot agree with a bug in it.
    private static string NameOf(ConfigText config)
    {
        if (config.Language == SaveFileConfigFormat.Json)
            return JsonDocument.Parse(config.Text).RootElement.GetProperty("c_info").GetProperty("name").GetString()!;
        var line = config.Text.Split('\n').Last(l => l.TrimStart().StartsWith("name", StringComparison.Ordinal));
        return line.Split('=', 2)[1].Trim().Trim('"', '\'');
    }
}
