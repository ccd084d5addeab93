using System.Diagnostics;

namespace XenIac.Tests;

/// <summary>
/// How the process tests start <c>xen-iac</c>: the NativeAOT binary users get on linux-x64 when the build made one
/// (<c>./build.sh Test</c> publishes it and names it in <c>XENIAC_CLI</c>), else the managed build beside the tests
/// through <c>dotnet xen-iac.dll</c> (an IDE run, or a platform without NativeAOT).
/// </summary>
public static class ToolUnderTest
{
    public const string Variable = "XENIAC_CLI";

    /// <summary>The native binary, or null when the tests run the managed tool.</summary>
    public static string? NativeBinary { get; } =
        System.Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path && File.Exists(path) ? Path.GetFullPath(path) : null;

    public static string ManagedDll => Path.Combine(AppContext.BaseDirectory, "xen-iac.dll");

    /// <summary>The program and leading arguments that start the tool (exec-style, for scripts that spawn it).</summary>
    public static IReadOnlyList<string> Command => NativeBinary is { } native ? [native] : ["dotnet", ManagedDll];

    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var command = Command;
        var psi = new ProcessStartInfo(command[0]);
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }
}
