using System.Text.RegularExpressions;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;

namespace XenIac.Reconciler.Cloning;

/// <summary>How a batch of clones is made.</summary>
public sealed record CloneBatchOptions
{
    /// <summary>How many clones (1 to <see cref="CloneBatch.MaxCount"/>).</summary>
    public required int Count { get; init; }

    /// <summary>Clones are named PREFIX-1 .. PREFIX-N; null: the stored config's name.</summary>
    public string? Prefix { get; init; }

    /// <summary>
    /// Make only these clone numbers (each 1..<see cref="Count"/>), the others being there already: how a manifest's
    /// <c>clones: N</c> fills a pool up. Null: all of 1..Count.
    /// </summary>
    public IReadOnlyList<int>? Numbers { get; init; }

    /// <summary>How many clones restore at once.</summary>
    public int Parallelism { get; init; } = 4;

    /// <summary>How each clone gets its own writable file disks: a copy (default), a qcow2 overlay, or none (they share the source's).</summary>
    public CloneDiskCopy DiskCopy { get; init; } = CloneDiskCopy.Copy;

    /// <summary>
    /// With <see cref="CloneDiskCopy.Copy"/>: a shell command that makes each copy instead of a byte copy (a reflink,
    /// an LVM or ZFS clone of a file, ...). It runs as <c>sh -c COMMAND</c> with the source disk as <c>$1</c> and the
    /// path to write as <c>$2</c> (a temporary name beside the clone's disk, renamed when the command exits 0);
    /// a non-zero exit fails the clone and undoes the batch.
    /// </summary>
    public string? DiskCopyCommand { get; init; }

    /// <summary>What each clone must pass before the batch counts as made (a readiness gate); it throws when the clone is not ready.</summary>
    public Func<MadeClone, CancellationToken, Task>? Ready { get; init; }

    /// <summary>Told what could not be undone after a failure (a clone that would not go away), instead of hiding it.</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>One clone of a batch: its name, its number in the batch (1..N) and what the restore made.</summary>
public sealed record MadeClone(string Name, int Number, RestoreResult Result);

/// <summary>
/// Clones of one savefile, fanned out on a host: every check first (names free, disk copies possible, MACs unique
/// across the batch and the host), then N restores in parallel with their fixups; a clone that fails (or does not
/// pass its readiness gate) undoes the whole batch, so a warm pool is either all there or not at all. The CLI's
/// <c>domain clone</c> and the MSBuild clone pool both come here.
/// </summary>
public static partial class CloneBatch
{
    public const int MaxCount = 256;

    /// <exception cref="CloneException">Refused before anything was made (bad prefix, a name taken, a disk that cannot be copied).</exception>
    /// <exception cref="CloneFailedException">A clone failed; the clones made were removed.</exception>
    public static async Task<IReadOnlyList<MadeClone>> RestoreAsync(IXenHost host, string savefile, CloneBatchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Count is < 1 or > MaxCount) throw new CloneException($"a clone batch has 1 to {MaxCount} clones, not {options.Count}");
        if (options.Parallelism < 1) throw new CloneException($"clone parallelism must be at least 1, not {options.Parallelism}");
        if (!SaveFileHeader.LooksLikeXlSavefile(savefile))
            throw new CloneException($"{savefile} is not an xl savefile with a stored config; clone needs one");
        var stored = await ConfigText.LoadAsync(savefile, cancellationToken).ConfigureAwait(false);
        var source = stored.ToModel();
        var prefix = options.Prefix ?? source.Name ?? throw new CloneException($"the stored config of {savefile} names no domain; give a name prefix");
        CheckPrefix(prefix);

        var existing = await host.ListDomainsAsync(cancellationToken).ConfigureAwait(false);
        var numbers = options.Numbers ?? [.. Enumerable.Range(1, options.Count)];
        if (numbers.Count == 0 || numbers.Any(n => n < 1 || n > options.Count) || numbers.Distinct().Count() != numbers.Count)
            throw new CloneException($"clone numbers must be distinct, from 1 to {options.Count}");
        var names = numbers.Select(i => $"{prefix}-{i}").ToList();
        if (names.FirstOrDefault(n => existing.Any(d => d.Name == n)) is { } taken)
            throw new CloneException($"a domain named '{taken}' already runs on {host.Spec}; tear the clones {prefix}-N down first");

        // MACs unique across the batch and unlike the source's and every domain's on the host.
        var pool = MacPool.Avoiding(source);
        // Domain 0 has no guest config to ask for; a domain that went away since the list has no MACs to avoid.
        foreach (var d in existing.Where(d => d.DomId != 0))
        {
            ConfigText config;
            try { config = await host.GetConfigAsync(d.Name, cancellationToken).ConfigureAwait(false); }
            catch (XenHostException e) when (e.Error == XenHostError.DomainNotFound) { continue; }
            foreach (var nic in config.ToModel().Nics)
                if (nic.Mac is { } mac) pool.Reserve(mac);
        }

        var fixups = names.Select(n => new CloneFixups
        {
            Name = n,
            DiskPattern = DiskCopies.Pattern(options.DiskCopy),
            DiskFormat = options.DiskCopy == CloneDiskCopy.Qcow2 ? "qcow2" : null,
        }).ToList();
        var copies = fixups.Select(f => f.Apply(stored, new MacPool()).Disks).ToList();
        DiskCopies.Check(options.DiskCopy, options.DiskCopyCommand, copies.Any(c => c.Count > 0));
        var sourceFormats = source.Disks.GroupBy(d => d.Vdev).ToDictionary(g => g.Key, g => g.First().Format);
        foreach (var disk in copies.SelectMany(c => c))
        {
            if (!File.Exists(disk.From))
                throw new CloneException($"disk {disk.Vdev} ({disk.From}) is not a file a clone can copy; without disk copies the clones use it as it is");
            if (File.Exists(disk.To) || Directory.Exists(disk.To))
                throw new CloneException($"the disk copy {disk.To} already exists; remove it or tear the old clones down");
        }

        var made = new Progress[names.Count];
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(options.Parallelism);
        var tasks = names.Select(async (name, i) =>
        {
            await slots.WaitAsync(failed.Token).ConfigureAwait(false);
            try
            {
                made[i] = new Progress(name);
                foreach (var disk in copies[i])
                {
                    await DiskCopies.MakeAsync(disk, sourceFormats[disk.Vdev], options.DiskCopy, options.DiskCopyCommand, failed.Token).ConfigureAwait(false);
                    made[i].DiskCopies.Add(disk.To);
                }
                var result = await host.RestoreAsync(savefile, new RestoreOptions { Fixups = fixups[i], Macs = pool }, failed.Token).ConfigureAwait(false);
                made[i].Result = result;
                if (options.Ready is { } ready) await ready(new MadeClone(name, numbers[i], result), failed.Token).ConfigureAwait(false);
            }
            catch
            {
                // One failed clone stops the others; the whole batch is undone below.
                await failed.CancelAsync().ConfigureAwait(false);
                throw;
            }
            finally
            {
                slots.Release();
            }
        }).ToList();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            var first = tasks.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException);
            await UndoAsync(host, made, options.Warn).ConfigureAwait(false);
            // Cancelled by the caller: that is the answer, whatever a clone stopped mid-way then failed with.
            cancellationToken.ThrowIfCancellationRequested();
            if (first is not null) throw new CloneFailedException($"a clone failed and the clones this batch made were removed: {first.Message}", first);
            throw;
        }
        return [.. made.Select((m, i) => new MadeClone(m.Name, numbers[i], m.Result!))];
    }

    /// <summary>Destroys the clones PREFIX-1.. on the host and the disk copies a batch made for them; returns their names.</summary>
    /// <exception cref="CloneException">The prefix is not a domain name.</exception>
    public static Task<IReadOnlyList<string>> TeardownAsync(IXenHost host, string prefix, CancellationToken cancellationToken = default) =>
        TeardownAsync(host, prefix, 0, cancellationToken);

    /// <summary>Destroys the clones PREFIX-N with N above <paramref name="keep"/> (a pool shrinking to <paramref name="keep"/>) and their disk copies.</summary>
    /// <exception cref="CloneException">The prefix is not a domain name.</exception>
    public static async Task<IReadOnlyList<string>> TeardownAsync(IXenHost host, string prefix, int keep, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        CheckPrefix(prefix);
        var clones = (await host.ListDomainsAsync(cancellationToken).ConfigureAwait(false))
            .Where(d => NumberOf(prefix, d.Name) is not { } n || n > keep).Where(d => IsCloneName(prefix, d.Name)).Select(d => d.Name).ToList();
        foreach (var name in clones)
        {
            var disks = CopiesOf(name, (await host.GetConfigAsync(name, cancellationToken).ConfigureAwait(false)).ToModel());
            await host.DestroyAsync(name, cancellationToken).ConfigureAwait(false);
            foreach (var disk in disks) File.Delete(disk);
        }
        return clones;
    }

    /// <summary>Whether <paramref name="name"/> is PREFIX-N for a number N ≥ 1.</summary>
    public static bool IsCloneName(string prefix, string name) =>
        name.Length > prefix.Length + 1 && name.StartsWith(prefix + "-", StringComparison.Ordinal) && CloneNumber().IsMatch(name[(prefix.Length + 1)..]);

    /// <summary>N when <paramref name="name"/> is PREFIX-N, else null (a number too large for an int is no clone of a batch either).</summary>
    internal static int? NumberOf(string prefix, string name) =>
        IsCloneName(prefix, name) && int.TryParse(name.AsSpan(prefix.Length + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;

    private sealed class Progress(string name)
    {
        public string Name { get; } = name;
        public RestoreResult? Result { get; set; }
        public List<string> DiskCopies { get; } = [];
    }

    /// <summary>Destroys what the batch made (domains, then their disk copies); what fails to go is said, not hidden.</summary>
    private static async Task UndoAsync(IXenHost host, Progress?[] made, Action<string>? warn)
    {
        foreach (var m in made.Where(m => m is not null))
        {
            try
            {
                if (m!.Result is not null || await host.FindDomainAsync(m.Name, CancellationToken.None).ConfigureAwait(false) is not null)
                    await host.DestroyAsync(m.Name, CancellationToken.None).ConfigureAwait(false);
            }
            catch (XenHostException e)
            {
                warn?.Invoke($"could not destroy clone {m!.Name}: {e.Message}");
            }
            foreach (var disk in m!.DiskCopies) File.Delete(disk);
        }
    }

    /// <summary>The disk copies a batch made for <paramref name="name"/>: writable file disks named after the clone by the default pattern.</summary>
    private static List<string> CopiesOf(string name, DomainConfig config) =>
        [.. config.Disks.Where(d => !d.IsCdrom && d.Access != "ro" && d.Target.Length > 0)
            .Where(d => Path.GetFileNameWithoutExtension(d.Target) == $"{name}-{d.Vdev}" || Path.GetFileName(d.Target) == $"{name}-{d.Vdev}")
            .Select(d => d.Target).Where(File.Exists)];

    /// <summary>Whether clones can be named PREFIX-N: a domain name with room for the number.</summary>
    public static bool IsValidPrefix(string prefix) => PrefixPattern().IsMatch(prefix);

    private static void CheckPrefix(string prefix)
    {
        if (!IsValidPrefix(prefix))
            throw new CloneException($"clone name prefix '{prefix}' is not a domain name (letters, digits, '-', '_', '.'; up to 60)");
    }

    [GeneratedRegex("^[1-9][0-9]*$")]
    private static partial Regex CloneNumber();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,59}$")]
    private static partial Regex PrefixPattern();
}

/// <summary>A clone batch refused before it made anything; the message says why.</summary>
public sealed class CloneException(string message) : XenIacException(message);

/// <summary>One clone of a batch failed; the message names the cause and says the batch was removed.</summary>
public sealed class CloneFailedException(string message, Exception inner) : XenIacException(message, inner);
