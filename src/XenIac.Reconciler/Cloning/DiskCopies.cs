using System.ComponentModel;
using System.Diagnostics;
using XenIac.Core.Config;

namespace XenIac.Reconciler.Cloning;

/// <summary>How each clone gets its own writable file disks.</summary>
public enum CloneDiskCopy
{
    /// <summary>A full copy beside the source (<see cref="CloneFixups.DefaultDiskPattern"/>), or what <see cref="CloneBatchOptions.DiskCopyCommand"/> makes there.</summary>
    Copy,

    /// <summary>
    /// A qcow2 overlay beside the source (<see cref="CloneFixups.OverlayDiskPattern"/>) whose backing file is the
    /// source disk, made by <c>qemu-img create</c>; the clone's disk says format=qcow2. Nothing is copied, so the
    /// source must not change while clones run on it.
    /// </summary>
    Qcow2,

    /// <summary>The clones share the source's disks.</summary>
    None,
}

/// <summary>The words the CLI, the manifest and the MSBuild property use for <see cref="CloneDiskCopy"/>: one list, so they cannot drift.</summary>
public static class CloneDiskCopyWords
{
    public static IReadOnlyList<(string Word, CloneDiskCopy Mode)> All { get; } =
        [("cp", CloneDiskCopy.Copy), ("qcow2", CloneDiskCopy.Qcow2), ("none", CloneDiskCopy.None)];

    public static string Word(CloneDiskCopy mode) => All.First(w => w.Mode == mode).Word;

    public static bool TryParse(string? word, out CloneDiskCopy mode)
    {
        foreach (var (w, m) in All)
            if (string.Equals(w, word?.Trim(), StringComparison.OrdinalIgnoreCase)) { mode = m; return true; }
        mode = default;
        return false;
    }

    /// <summary>"cp, qcow2 or none", for messages.</summary>
    public static string List => string.Join(", ", All.Take(All.Count - 1).Select(w => w.Word)) + " or " + All[^1].Word;
}

/// <summary>Makes one clone disk (copy, overlay or the user's command) and checks up front that it can.</summary>
internal static class DiskCopies
{
    public const string QemuImg = "qemu-img";

    /// <summary>The file name pattern the mode gives redirected disks (null: disks are not redirected).</summary>
    public static string? Pattern(CloneDiskCopy mode) => mode switch
    {
        CloneDiskCopy.Copy => CloneFixups.DefaultDiskPattern,
        CloneDiskCopy.Qcow2 => CloneFixups.OverlayDiskPattern,
        _ => null,
    };

    /// <summary>Refuses, before any clone is made, what cannot work: a command without the copy mode, qemu-img missing.</summary>
    /// <exception cref="CloneException"></exception>
    public static void Check(CloneDiskCopy mode, string? command, bool anyDisk)
    {
        if (command is not null && mode != CloneDiskCopy.Copy)
            throw new CloneException($"a disk copy command makes copies; it does not go with disk copy '{CloneDiskCopyWords.Word(mode)}'");
        if (command is not null && string.IsNullOrWhiteSpace(command))
            throw new CloneException("the disk copy command is empty");
        if (mode == CloneDiskCopy.Qcow2 && anyDisk && FindOnPath(QemuImg) is null)
            throw new CloneException($"disk copy qcow2 needs {QemuImg} (Debian: qemu-utils) on PATH, and there is none; install it or use cp");
    }

    /// <summary>qemu-img's name for a Xen disk format (xl says vhd where qemu says vpc).</summary>
    private static string QemuFormat(string xlFormat) => xlFormat == "vhd" ? "vpc" : xlFormat;

    /// <summary>Makes <paramref name="disk"/>'s target from its source; <paramref name="sourceFormat"/> is the source disk's xl format.</summary>
    public static async Task MakeAsync(DiskRedirect disk, string sourceFormat, CloneDiskCopy mode, string? command, CancellationToken ct)
    {
        // Into a temp file first, renamed when complete: a copy cut short never sits under the clone's disk name
        // (where teardown and the next batch's "already exists" check would take it for a finished one).
        var temp = disk.To + ".xeniac-copy";
        try
        {
            if (mode == CloneDiskCopy.Qcow2)
            {
                // An absolute backing path: the overlay must find its source wherever qemu (or xl) opens it from.
                await RunAsync(QemuImg, ["create", "-q", "-f", "qcow2", "-F", QemuFormat(sourceFormat), "-b", Path.GetFullPath(disk.From), temp],
                    $"{QemuImg} create for {disk.Vdev}", ct).ConfigureAwait(false);
            }
            else if (command is not null)
            {
                // sh -c CMD NAME ARGS: the source is $1, the target $2 (sh's $0 is the name after the command).
                await RunAsync("sh", ["-c", command, "xeniac-disk-copy", disk.From, temp], $"the disk copy command for {disk.Vdev}", ct).ConfigureAwait(false);
                if (!File.Exists(temp))
                    throw new IOException($"the disk copy command for {disk.Vdev} exited 0 but made no file at $2 ({temp})");
            }
            else
            {
                await Task.Run(() => File.Copy(disk.From, temp, overwrite: true), ct).ConfigureAwait(false);
            }
            File.Move(temp, disk.To, overwrite: false);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static async Task RunAsync(string program, IEnumerable<string> args, string what, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(psi)!; }
        catch (Win32Exception e) { throw new IOException($"{what} could not start {program}: {e.Message}", e); }
        using (process)
        {
            process.StandardInput.Close();
            var stderr = process.StandardError.ReadToEndAsync(ct);
            _ = process.StandardOutput.ReadToEndAsync(ct);
            try
            {
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            if (process.ExitCode == 0) return;
            var said = string.Join(' ', (await stderr.ConfigureAwait(false)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            throw new IOException($"{what} exited {process.ExitCode}{(said.Length == 0 ? "" : ": " + said)}");
        }
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);
}
