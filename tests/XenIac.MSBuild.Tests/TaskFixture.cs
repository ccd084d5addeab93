using XenIac.Hosts;
using XenIac.MSBuild.Tests.Fakes;

namespace XenIac.MSBuild.Tests;

/// <summary>A temp project folder, a fake build engine and a fake host wired into tasks through the factory seam.</summary>
public sealed class TaskFixture : IDisposable
{
    public TaskFixture()
    {
        Directory.CreateDirectory(Folder);
        Engine = new FakeBuildEngine(Path.Combine(Folder, "Project.csproj"));
    }

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "xeniac-msbuild-unit-" + Guid.NewGuid().ToString("N"));
    public FakeBuildEngine Engine { get; }
    public FakeXenHost Host { get; } = new();
    public List<(string? Spec, string BaseDirectory)> Opened { get; } = [];

    public string PathOf(string relative) => Path.Combine(Folder, relative);

    public T Wire<T>(T task) where T : XenIacTask
    {
        task.BuildEngine = Engine;
        task.HostFactory = (spec, baseDirectory) =>
        {
            Opened.Add((spec, baseDirectory));
            return Host;
        };
        return task;
    }

    public T WireUnavailable<T>(T task, string message) where T : XenIacTask
    {
        task.BuildEngine = Engine;
        task.HostFactory = (_, _) => throw new XenHostException(XenHostError.Unavailable, message);
        return task;
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
